using SmtpLens.Lab.Scenarios;

namespace SmtpLens.Cli.Commands;

/// <summary>Prints a scenario run: what was set up, what happened, a transcript excerpt, the findings, the checks.</summary>
internal static class ScenarioReport
{
    public static void List()
    {
        Console.WriteLine("Lab scenarios (smtplens lab --scenario NAME):");
        var width = LabScenarios.All.Max(s => s.Name.Length);
        foreach (var s in LabScenarios.All)
        {
            Console.WriteLine($"  {s.Name.PadRight(width)}  [{s.Seeds}] {s.Summary}");
        }
    }

    public static void Print(ScenarioResult result, int excerptLines)
    {
        var scenario = result.Scenario;
        Console.WriteLine($"Scenario {scenario.Name} ({scenario.Seeds})");
        Console.WriteLine($"  {scenario.Summary}");
        Console.WriteLine();
        Console.WriteLine("What was set up:");
        result.Setup.ToList().ForEach(l => Console.WriteLine($"  - {l}"));
        Console.WriteLine();
        Console.WriteLine("What happened:");
        result.Outcomes.ToList().ForEach(l => Console.WriteLine(l.StartsWith(' ') ? $"  {l}" : $"  - {l}"));
        foreach (var session in result.Sessions)
        {
            Console.WriteLine($"  - session {session.SessionId}: ended {session.Reason}, {session.Findings.Count} finding(s)");
        }

        if (result.KeySession is { } key && Path.Combine(result.TranscriptDirectory, key + ".log") is var path && File.Exists(path))
        {
            Console.WriteLine();
            Console.WriteLine($"Transcript excerpt ({LabCommand.Relative(path)}; .jsonl and .csv alongside):");
            var lines = File.ReadLines(path)
                .Where(l => !l.StartsWith('#') && !l.Contains(" *   ", StringComparison.Ordinal) && !l.Contains(" * summary", StringComparison.Ordinal))
                .ToList();
            foreach (var line in lines.Take(excerptLines))
            {
                Console.WriteLine("  " + line);
            }

            if (lines.Count > excerptLines)
            {
                Console.WriteLine($"  ... ({lines.Count - excerptLines} more lines)");
            }
        }

        Console.WriteLine();
        var findings = result.Findings;
        Console.WriteLine(findings.Count == 0 ? "Findings: none" : $"Findings ({findings.Count}):");
        foreach (var finding in findings)
        {
            // Long evidence lists (a whole EHLO reply) are in the transcript; three lines show the point here.
            var lines = finding.Describe();
            var evidence = lines.Count(l => l.StartsWith("  evidence #", StringComparison.Ordinal));
            var shown = 0;
            foreach (var line in lines)
            {
                if (line.StartsWith("  evidence #", StringComparison.Ordinal) && ++shown > 3)
                {
                    if (shown == 4)
                    {
                        Console.WriteLine($"    ... {evidence - 3} more evidence lines in the transcript");
                    }

                    continue;
                }

                Console.WriteLine("  " + line);
            }
        }

        LabReport.PrintChecks(result.Checks);
        Console.WriteLine(result.Reproduced ? $"Scenario {scenario.Name} reproduced as designed." : $"Scenario {scenario.Name} did NOT reproduce as designed: see the checks above.");
    }
}
