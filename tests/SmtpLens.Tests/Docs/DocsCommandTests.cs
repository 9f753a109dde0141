using SmtpLens.Cli;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Docs;

/// <summary>Every smtplens command in the README's and docs/'s code blocks parses with the real command line.</summary>
public sealed class DocsCommandTests
{
    [Fact]
    public void EveryDocumentedCommand_Parses()
    {
        var files = new[] { SourceTree.PathOf("README.md") }
            .Concat(Directory.GetFiles(SourceTree.PathOf("docs"), "*.md").Order(StringComparer.Ordinal))
            .ToList();
        var commands = files.SelectMany(f => DocumentedCommands(Path.GetRelativePath(SourceTree.Root, f), File.ReadAllText(f))).ToList();

        var failures = commands.Select(Failure).OfType<string>().ToList();

        // The README alone has a dozen; far fewer means the extraction broke, not that the docs are fine.
        Assert.True(commands.Count >= 30, $"only {commands.Count} smtplens commands found in {files.Count} files");
        Assert.Contains(commands, c => c.Where.StartsWith("README.md:", StringComparison.Ordinal) && c.Args.SequenceEqual(["lab"]));
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void AMadeUpOption_OrValue_FailsWithItsPlace()
    {
        const string Markdown = "Text `smtplens proxy --not-in-code-blocks` is not checked.\n\n```sh\n"
            + "smtplens lab --out demo                      # a comment\n"
            + "$ smtplens proxy --listen 127.0.0.1:2525 \\\n    --upstream 127.0.0.1:25 --no-such-option | tee out.txt\n"
            + "smtplens lab --scenario no-such-scenario > x\n"
            + "smtplens proxy: listener listener1: an error message, not a command\n"
            + "```\n\n```\ndotnet run --project src/SmtpLens.Cli -c Release -- diff a.json\n```\n";

        var commands = DocumentedCommands("made-up.md", Markdown).ToList();
        var failures = commands.Select(Failure).OfType<string>().ToList();

        Assert.Equal(["made-up.md:4", "made-up.md:5", "made-up.md:7", "made-up.md:12"], commands.Select(c => c.Where));
        Assert.Equal(["lab", "--out", "demo"], commands[0].Args);
        Assert.Equal(["proxy", "--listen", "127.0.0.1:2525", "--upstream", "127.0.0.1:25", "--no-such-option"], commands[1].Args);
        Assert.Equal(3, failures.Count);
        Assert.Contains(failures, f => f.StartsWith("made-up.md:5: smtplens proxy", StringComparison.Ordinal) && f.Contains("--no-such-option", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("made-up.md:7: smtplens lab", StringComparison.Ordinal) && f.Contains("no-such-scenario", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("made-up.md:12: smtplens diff", StringComparison.Ordinal));
    }

    /// <summary>The command lines in fenced code blocks: "smtplens ..." (a "$ " prompt allowed) or the dotnet run form.</summary>
    internal static IEnumerable<DocumentedCommand> DocumentedCommands(string file, string markdown)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var inFence = false;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
                continue;
            }

            var text = lines[i].Trim();
            if (!inFence || !(text.StartsWith("smtplens ", StringComparison.Ordinal) || text.StartsWith("$ smtplens ", StringComparison.Ordinal) || text.StartsWith("dotnet run --project src/SmtpLens.Cli", StringComparison.Ordinal)))
            {
                continue;
            }

            var first = i;
            while (text.EndsWith('\\') && i + 1 < lines.Length)
            {
                text = text[..^1] + " " + lines[++i].Trim();
            }

            var words = ShellWords(text);
            var command = words.SkipWhile(w => w == "$").ToList();
            var args = command[0] == "dotnet" ? command.Skip(command.IndexOf("--") + 1).ToList() : command.Skip(1).ToList();

            // "smtplens proxy: listener ..." is a message the program prints, not a command.
            if (args.Count == 0 || args[0].EndsWith(':'))
            {
                continue;
            }

            yield return new DocumentedCommand($"{file}:{first + 1}", args);
        }
    }

    private static string? Failure(DocumentedCommand command)
    {
        var parsed = SmtpLensCommand.Create().Parse(command.Args);
        return parsed.Errors.Count == 0
            ? null
            : $"{command.Where}: smtplens {string.Join(' ', command.Args)}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}";
    }

    /// <summary>Words as a POSIX shell splits them, up to a comment, pipe, redirection or command separator.</summary>
    private static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        var started = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c is '\'' or '"')
            {
                var close = line.IndexOf(c, i + 1);
                word.Append(line, i + 1, (close < 0 ? line.Length : close) - i - 1);
                i = close < 0 ? line.Length : close;
                started = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                Flush();
            }
            else if (!started && (c is '#' or '|' or '>' or ';' || (c == '&' && i + 1 < line.Length && line[i + 1] == '&')))
            {
                break;
            }
            else
            {
                word.Append(c);
                started = true;
            }
        }

        Flush();
        return words;

        void Flush()
        {
            if (started)
            {
                words.Add(word.ToString());
                word.Clear();
                started = false;
            }
        }
    }

    internal sealed record DocumentedCommand(string Where, List<string> Args);
}
