using System.CommandLine;
using System.Globalization;
using SmtpLens.IO;
using SmtpLens.TlsRpt;
using SmtpLens.Transcripts;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens tlsrpt</c>: an RFC 8460 aggregate report from the tls-policy verdicts of saved transcripts.</summary>
internal static class TlsRptCommand
{
    public const string ExitText = "Exit codes: 0 report written, 1 no session with a tls-policy verdict for that day, 2 usage error or unreadable transcripts.";

    public static Command Create()
    {
        var transcripts = new Option<string>("--transcripts", "-t") { HelpName = "DIR", Description = "Transcripts folder written by proxy --transcripts or probe (searched recursively for .jsonl)." };
        var domain = new Option<string>("--policy-domain") { HelpName = "DOMAIN", Description = "The receiving domain the report is about (its policy-domain)." };
        var output = new Option<string?>("--output", "-o") { HelpName = "FILE", Description = "Where to write the report; default RFC 8460's name sender!policy-domain!begin!end.json in the current folder." };
        var date = new Option<string?>("--date") { HelpName = "YYYY-MM-DD", Description = "The UTC day the report covers; default the day of the newest session with verdicts." };
        var organization = new Option<string>("--organization") { HelpName = "NAME", Description = "organization-name: who sends the report.", DefaultValueFactory = _ => "SmtpLens" };
        var sender = new Option<string>("--sender-domain") { HelpName = "DOMAIN", Description = "The reporting domain, first part of the file name.", DefaultValueFactory = _ => Environment.MachineName };
        var contact = new Option<string?>("--contact") { HelpName = "ADDRESS", Description = "contact-info; default postmaster@<sender-domain>." };
        var info = new Option<string?>("--additional-information") { HelpName = "URI", Description = "A URI with more about the failures, written into each failure-details entry." };
        var command = new Command(
            "tlsrpt",
            "Write an SMTP TLS report (RFC 8460 aggregate JSON) for one policy domain and one UTC day from recorded sessions: the policies met (tlsa, sts, no-policy-found), "
            + "success and failure counts, and failure details with the RFC's result types. Reads the tls-policy verdicts that proxy and probe record when policy lookups are on; "
            + "sessions without verdicts are skipped. Makes no network requests.")
        {
            transcripts, domain, output, date, organization, sender, contact, info,
        };
        command.SetAction(async parse =>
        {
            var dir = parse.GetValue(transcripts);
            var policyDomain = parse.GetValue(domain)?.Trim().TrimEnd('.');
            if (string.IsNullOrEmpty(dir) || string.IsNullOrEmpty(policyDomain))
            {
                await Console.Error.WriteLineAsync("smtplens tlsrpt: give --transcripts DIR and --policy-domain DOMAIN (smtplens tlsrpt --help)");
                return ExitCodes.Usage;
            }

            if (!Directory.Exists(dir))
            {
                await Console.Error.WriteLineAsync($"smtplens tlsrpt: no such folder: {dir}");
                return ExitCodes.Usage;
            }

            DateOnly? day = null;
            if (parse.GetValue(date) is { } text)
            {
                if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
                {
                    await Console.Error.WriteLineAsync($"smtplens tlsrpt: --date {text}: expected YYYY-MM-DD");
                    return ExitCodes.Usage;
                }

                day = parsed;
            }

            var sessions = new List<TlsRptSession>();
            var files = Directory.GetFiles(dir, "*.jsonl", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            foreach (var path in files)
            {
                try
                {
                    foreach (var session in JsonLinesTranscriptReader.Read(path).GroupBy(e => e.Session, StringComparer.Ordinal))
                    {
                        if (TlsRptSession.FromEvents([.. session], policyDomain) is { } counted)
                        {
                            sessions.Add(counted);
                        }
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    await Console.Error.WriteLineAsync($"smtplens tlsrpt: cannot read {path}: {e.Message}");
                    return ExitCodes.Usage;
                }
            }

            if (sessions.Count == 0)
            {
                await Console.Error.WriteLineAsync(
                    $"smtplens tlsrpt: none of the {files.Count} transcript(s) in {dir} carries a tls-policy verdict for {policyDomain} (were policy lookups on?); no report written");
                return ExitCodes.Failed;
            }

            var senderDomain = parse.GetValue(sender)!;
            var report = TlsRptReport.Build(sessions, new TlsRptOptions(
                policyDomain,
                day ?? DateOnly.FromDateTime(sessions.Max(s => s.Start).UtcDateTime),
                parse.GetValue(organization)!,
                parse.GetValue(contact) ?? $"postmaster@{senderDomain}",
                senderDomain,
                parse.GetValue(info)));
            var target = parse.GetValue(output) ?? report.FileName;
            try
            {
                await using var file = PrivateFiles.Open(target, FileMode.Create, PrivateFiles.OwnerOnly, bufferSize: 0);
                await file.WriteAsync(report.ToJson());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"smtplens tlsrpt: cannot write {target}: {e.Message}");
                return ExitCodes.Usage;
            }

            var failed = report.Sessions.Count(s => !s.Success);
            Console.WriteLine(
                $"{Path.GetFullPath(target)}: {report.Options.Day:yyyy-MM-dd}, {report.Sessions.Count} session(s) with verdicts for {policyDomain}, {report.Sessions.Count - failed} successful, {failed} failed"
                + (report.SessionsOutsideDay > 0 ? $"; {report.SessionsOutsideDay} session(s) of other days left out" : string.Empty));
            foreach (var group in report.Sessions.Where(s => !s.Success).GroupBy(s => s.ResultType).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                Console.WriteLine($"  {group.Key}: {group.Count()}");
            }

            return ExitCodes.Ok;
        });
        return command.WithExample("smtplens tlsrpt --transcripts /var/log/smtplens --policy-domain example.com", ExitText);
    }
}
