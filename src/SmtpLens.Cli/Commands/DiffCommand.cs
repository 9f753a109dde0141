using System.CommandLine;
using System.Text.Json;
using SmtpLens.Probe.Diff;
using SmtpLens.Transcripts;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens diff A B</c>: two probes or transcripts side by side, e.g. inside and outside a firewall.</summary>
internal static class DiffCommand
{
    public const string ExitText = "Exit codes: 0 B offers every keyword A does, 1 a keyword of A is missing or masked in B (EHLO_KEYWORD_STRIPPED), 2 usage error or unreadable input.";

    public static Command Create()
    {
        var a = new Argument<string>("A") { Description = "The reference: 'smtplens probe --json' output (FILE#N picks the Nth host) or a .jsonl transcript." };
        var b = new Argument<string>("B") { Description = "The one to check against A, same formats." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of the side-by-side report." };
        var command = new Command("diff", "Compare two probes or transcripts (inside vs outside the firewall, port 25 vs 587): banner, EHLO keywords removed, masked or added, TLS parameters and certificates.")
        {
            a, b, json,
        };
        command.SetAction(async (parse, ct) =>
        {
            DiffResult diff;
            try
            {
                diff = ProbeDiff.Compare(DiffInput.Load(parse.GetValue(a)!), DiffInput.Load(parse.GetValue(b)!));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"smtplens diff: {e.Message}");
                return ExitCodes.Usage;
            }

            if (parse.GetValue(json))
            {
                await using var stdout = Console.OpenStandardOutput();
                await using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = JsonLinesTranscriptFormat.Encoder }))
                {
                    DiffReport.Json(writer, diff);
                }

                await stdout.WriteAsync("\n"u8.ToArray(), ct);
            }
            else
            {
                Console.Write(DiffReport.Text(diff));
            }

            return diff.ExitCode;
        });
        return command.WithExample("smtplens diff outside.json inside.json", ExitText);
    }
}
