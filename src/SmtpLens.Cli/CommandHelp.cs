using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;

namespace SmtpLens.Cli;

/// <summary>
/// How each help page ends: one worked example of the command, then its exit codes, each said once (not repeated
/// in the descriptions, which the root page lists for every verb).
/// </summary>
internal static class CommandHelp
{
    private static readonly ConditionalWeakTable<Command, Tail> Tails = [];

    /// <param name="example">A complete command line, starting with <c>smtplens</c>, that parses as written.</param>
    /// <param name="exitCodes">The command's own exit codes when they differ from the general ones.</param>
    public static T WithExample<T>(this T command, string example, string exitCodes = ExitCodes.HelpText)
        where T : Command
    {
        Tails.AddOrUpdate(command, new Tail(example, exitCodes));
        return command;
    }

    public static string? ExampleOf(Command command) => Tails.TryGetValue(command, out var tail) ? tail.Example : null;

    /// <summary>Wraps the root's help action (it serves every subcommand) so each page gets its tail.</summary>
    public static void Install(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithTail((SynchronousCommandLineAction)help.Action!);
    }

    private sealed record Tail(string Example, string ExitCodes);

    private sealed class HelpWithTail(SynchronousCommandLineAction standard) : SynchronousCommandLineAction
    {
        // Like the standard help: "smtplens proxy --help --typo" still shows the help.
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var code = standard.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            if (Tails.TryGetValue(parseResult.CommandResult.Command, out var tail))
            {
                output.WriteLine("Example:");
                output.WriteLine("  " + tail.Example);
                output.WriteLine();
                output.WriteLine(tail.ExitCodes);
            }
            else
            {
                output.WriteLine(ExitCodes.HelpText);
            }

            return code;
        }
    }
}
