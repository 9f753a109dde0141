using System.CommandLine;
using SmtpLens.Cli;

namespace SmtpLens.Tests.Cli;

/// <summary>Each help page says what its command does, its options, one example that parses, and the exit codes once.</summary>
public sealed class CommandHelpTests
{
    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string>();
        foreach (var path in Walk(SmtpLensCommand.Create(), []))
        {
            data.Add(path);
        }

        return data;
    }

    [Fact]
    public void RootHelp_ListsEveryVerb_AndSaysTheExitCodesOnce()
    {
        var root = SmtpLensCommand.Create();

        var page = Help(root, []);

        Assert.All(root.Subcommands, verb => Assert.Contains("  " + verb.Name, page, StringComparison.Ordinal));
        Assert.Equal(1, Count(page, "Exit codes:"));
        Assert.Contains(ExitCodes.HelpText, page, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void EveryCommandsHelp_HasItsOptions_OneExampleThatParses_AndTheExitCodesOnce(string path)
    {
        var root = SmtpLensCommand.Create();
        var words = path.Split(' ');
        var command = words.Aggregate((Command)root, (c, name) => c.Subcommands.Single(s => s.Name == name));

        var page = Help(root, words);

        Assert.StartsWith("Description:", page, StringComparison.Ordinal);
        Assert.All(command.Options.Where(o => !o.Hidden), o => Assert.Contains(o.Name, page, StringComparison.Ordinal));
        var example = CommandHelp.ExampleOf(command);
        Assert.NotNull(example);
        Assert.StartsWith($"smtplens {path} ", example + " ", StringComparison.Ordinal);
        Assert.Contains("Example:\n  " + example + "\n", page.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Empty(root.Parse(example["smtplens ".Length..]).Errors);
        Assert.Equal(1, Count(page, "Exit codes:"));
    }

    private static IEnumerable<string> Walk(Command command, string[] path)
    {
        foreach (var sub in command.Subcommands)
        {
            string[] here = [.. path, sub.Name];
            yield return string.Join(' ', here);
            foreach (var deeper in Walk(sub, here))
            {
                yield return deeper;
            }
        }
    }

    private static string Help(RootCommand root, string[] words)
    {
        using var output = new StringWriter();
        var code = root.Parse([.. words, "--help"]).Invoke(new InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        return output.ToString();
    }

    private static int Count(string text, string what)
    {
        var count = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
