using System.CommandLine;
using System.Diagnostics;
using SmtpLens.Report;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens report</c>: one self-contained HTML page over one or more transcripts folders.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var sources = new Argument<string[]>("DIR") { Arity = ArgumentArity.ZeroOrMore, Description = "Transcripts folders written by proxy --transcripts, probe or lab (searched recursively for .jsonl), or single .jsonl files. Several folders merge into one timeline, each session labelled with its instance." };
        var output = new Option<string>("--output", "-o") { HelpName = "FILE", Description = "Where to write the report.", DefaultValueFactory = _ => "report.html" };
        var command = new Command(
            "report",
            "Build an HTML incident report from saved transcripts: an overview (sessions over time by outcome, findings with cause and next step, TLS on each leg, sending TLS policies that would fail, upstreams and clients), "
            + "a sortable, filterable session list, and per session its policy verdicts, a ladder diagram and both legs' TLS handshakes side by side. "
            + "One file with everything inline: it opens from file:// with no network. Redacted AUTH stays redacted.")
        {
            sources, output,
        };
        command.SetAction(async parse =>
        {
            var dirs = parse.GetValue(sources) ?? [];
            if (dirs.Length == 0)
            {
                await Console.Error.WriteLineAsync("smtplens report: give at least one transcripts folder (smtplens report --help)");
                return ExitCodes.Usage;
            }

            var clock = Stopwatch.StartNew();
            IncidentReport report;
            try
            {
                report = IncidentReport.Load(dirs);
            }
            catch (Exception e) when (e is FileNotFoundException or IOException or UnauthorizedAccessException or InvalidDataException)
            {
                await Console.Error.WriteLineAsync($"smtplens report: {e.Message}");
                return ExitCodes.Usage;
            }

            var path = parse.GetValue(output)!;
            try
            {
                report.WriteAtomically(path, TimeProvider.System.GetUtcNow());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"smtplens report: cannot write {path}: {e.Message}");
                return ExitCodes.Usage;
            }

            var sessions = report.Sessions;
            Console.WriteLine($"{Path.GetFullPath(path)}: {sessions.Count} session(s) from {dirs.Length} folder(s), {sessions.Sum(s => s.Findings.Count)} finding(s), {new FileInfo(path).Length / 1024} KiB, built in {clock.ElapsedMilliseconds} ms");
            foreach (var group in sessions.GroupBy(s => s.Outcome).OrderBy(g => g.Key))
            {
                Console.WriteLine($"  {SessionOutcomes.Name(group.Key)}: {group.Count()}");
            }

            return ExitCodes.Ok;
        });
        return command.WithExample("smtplens report /var/log/smtplens-a /var/log/smtplens-b -o incident.html");
    }
}
