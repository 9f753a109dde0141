using System.CommandLine;
using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens analyze</c>: the live detectors, run again over saved <c>.jsonl</c> transcripts.</summary>
internal static class AnalyzeCommand
{
    public const string ExitText = "Exit codes: 0 no finding of warning or above, 1 at least one warning or error finding, 2 usage error or unreadable file.";

    public static Command Create()
    {
        // Zero or more, checked in the action: a missing FILE is a usage error (exit 2), not a parse failure (exit 1).
        var files = new Argument<string[]>("FILE") { Arity = ArgumentArity.ZeroOrMore, Description = "Saved <session>.jsonl transcripts (from proxy --transcripts), or directories holding them." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per finding (JSON Lines: ts, session, code, severity, leg, title, evidence, explanation, causes, nextStep, facts) instead of text." };
        var command = new Command(
            "analyze",
            "Run the finding detectors over saved .jsonl transcripts and print what they find: the same detectors, and so the same findings, as the live proxy. "
            + "Each finding has a stable code, a severity, the leg, the transcript lines it rests on, likely causes and the next step (docs/findings.md).")
        {
            files, json,
        };
        command.SetAction(async parse =>
        {
            var arguments = parse.GetValue(files) ?? [];
            if (arguments.Length == 0)
            {
                await Console.Error.WriteLineAsync("smtplens analyze: give at least one .jsonl transcript or directory (smtplens analyze --help)");
                return ExitCodes.Usage;
            }

            List<string> paths;
            try
            {
                paths = Expand(arguments);
            }
            catch (FileNotFoundException e)
            {
                await Console.Error.WriteLineAsync($"smtplens analyze: {e.Message}");
                return ExitCodes.Usage;
            }

            var findings = new List<Finding>();
            var sessions = 0;
            foreach (var path in paths)
            {
                IReadOnlyList<TranscriptEvent> events;
                try
                {
                    events = JsonLinesTranscriptReader.Read(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    await Console.Error.WriteLineAsync($"smtplens analyze: cannot read {path}: {e.Message}");
                    return ExitCodes.Usage;
                }

                sessions += events.Select(e => e.Session).Distinct(StringComparer.Ordinal).Count();
                var found = FindingEngine.Analyze(events);
                findings.AddRange(found);
                if (parse.GetValue(json))
                {
                    foreach (var f in found)
                    {
                        Console.WriteLine(FindingJson.ToLine(f));
                    }
                }
                else
                {
                    Print(path, found);
                }
            }

            if (!parse.GetValue(json))
            {
                Console.WriteLine($"{paths.Count} file(s), {sessions} session(s), {findings.Count} finding(s): {Count(findings, FindingSeverity.Error)} error, {Count(findings, FindingSeverity.Warning)} warning, {Count(findings, FindingSeverity.Info)} info");
            }

            return findings.Any(f => f.Severity >= FindingSeverity.Warning) ? ExitCodes.Failed : ExitCodes.Ok;
        });
        return command.WithExample("smtplens analyze /var/log/smtplens", ExitText);
    }

    private static void Print(string path, IReadOnlyList<Finding> found)
    {
        Console.WriteLine($"{path}: {(found.Count == 0 ? "no findings" : $"{found.Count} finding(s)")}");
        foreach (var f in found)
        {
            foreach (var line in f.Describe())
            {
                Console.WriteLine("  " + line);
            }
        }
    }

    private static int Count(IEnumerable<Finding> findings, FindingSeverity severity) => findings.Count(f => f.Severity == severity);

    /// <summary>Files as given; a directory stands for its *.jsonl files in name order (session ids sort by time).</summary>
    private static List<string> Expand(IEnumerable<string> arguments)
    {
        var paths = new List<string>();
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                var found = Directory.GetFiles(argument, "*.jsonl").Order(StringComparer.Ordinal).ToList();
                paths.AddRange(found.Count > 0 ? found : throw new FileNotFoundException($"no .jsonl transcripts in {argument}"));
            }
            else if (File.Exists(argument))
            {
                paths.Add(argument);
            }
            else
            {
                throw new FileNotFoundException($"no such file or directory: {argument}");
            }
        }

        return paths;
    }
}
