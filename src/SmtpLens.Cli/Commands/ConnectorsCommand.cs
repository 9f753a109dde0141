using System.CommandLine;
using SmtpLens.Connectors;
using SmtpLens.Transcripts;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens connectors FILE --transcripts DIR</c>: which Exchange Online inbound connector each recorded
/// sending session would land on, and CONNECTOR_WILDCARD_OVERLAP across the run.</summary>
internal static class ConnectorsCommand
{
    public const string ExitText = "Exit codes: 0 no overlap, 1 CONNECTOR_WILDCARD_OVERLAP found, 2 usage error or unreadable file.";

    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Inbound connectors as JSON: New-InboundConnector parameters, or the output of Get-InboundConnector | ConvertTo-Json (one object or an array)." };
        var transcripts = new Option<string>("--transcripts") { Description = "Directory (or file) of saved <session>.jsonl transcripts (proxy --transcripts) whose senders are matched." };
        var command = new Command(
            "connectors",
            "For each recorded sending session, say which inbound connector a certificate-name or IP match would select in Exchange Online, and why; "
            + "report CONNECTOR_WILDCARD_OVERLAP when one wildcard TlsSenderCertificateName matches more than one sending host (docs/probe-and-diff.md).")
        {
            file, transcripts,
        };
        command.SetAction(async parse =>
        {
            IReadOnlyList<InboundConnector> connectors;
            try
            {
                connectors = InboundConnector.Parse(await File.ReadAllTextAsync(parse.GetValue(file)!));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                await Console.Error.WriteLineAsync($"smtplens connectors: cannot read {parse.GetValue(file)}: {e.Message}");
                return ExitCodes.Usage;
            }

            if (parse.GetValue(transcripts) is not { Length: > 0 } dir)
            {
                await Console.Error.WriteLineAsync("smtplens connectors: --transcripts DIR is required (smtplens connectors --help)");
                return ExitCodes.Usage;
            }

            var paths = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.jsonl").Order(StringComparer.Ordinal).ToList() : File.Exists(dir) ? [dir] : [];
            if (paths.Count == 0)
            {
                await Console.Error.WriteLineAsync($"smtplens connectors: no .jsonl transcripts in {dir}");
                return ExitCodes.Usage;
            }

            var senders = new List<ConnectorSender>();
            foreach (var path in paths)
            {
                try
                {
                    senders.AddRange(JsonLinesTranscriptReader.Read(path).GroupBy(e => e.Session, StringComparer.Ordinal).Select(g => ConnectorSender.From(g.Key, g)));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    await Console.Error.WriteLineAsync($"smtplens connectors: cannot read {path}: {e.Message}");
                    return ExitCodes.Usage;
                }
            }

            foreach (var sender in senders)
            {
                var match = ConnectorSelection.Select(connectors, sender);
                var certificate = sender.CertificateNames.Count > 0 ? $"certificate {string.Join(", ", sender.CertificateNames)}" : "no client certificate";
                Console.WriteLine($"{sender.Session}: from {sender.Address?.ToString() ?? "(unknown)"}, EHLO {sender.Ehlo ?? "(none)"}, {certificate}");
                Console.WriteLine(match.Connector is null ? $"  -> {match.Reason}" : $"  -> connector \"{match.Connector.Name}\": {match.Reason}");
                if (match.AlsoMatching.Count > 0)
                {
                    Console.WriteLine($"     also matching: {string.Join(", ", match.AlsoMatching.Select(c => $"\"{c.Name}\""))}");
                }
            }

            var overlaps = ConnectorSelection.Overlaps(connectors, senders);
            foreach (var line in overlaps.SelectMany(f => f.Describe()))
            {
                Console.WriteLine(line);
            }

            Console.WriteLine($"{senders.Count} session(s), {connectors.Count} connector(s), {overlaps.Count} overlap finding(s)");
            return overlaps.Count > 0 ? ExitCodes.Failed : ExitCodes.Ok;
        });
        return command.WithExample("smtplens connectors connectors.json --transcripts /var/log/smtplens", ExitText);
    }

    /// <summary><c>--connectors FILE</c> on proxy and lab: null when not given; a usage error printed when unreadable.</summary>
    public static async Task<(bool Read, IReadOnlyList<InboundConnector>? Connectors)> ReadOptionAsync(string verb, string? file, CancellationToken cancellationToken)
    {
        if (file is null)
        {
            return (true, null);
        }

        try
        {
            return (true, InboundConnector.Parse(await File.ReadAllTextAsync(file, cancellationToken)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"smtplens {verb}: cannot read --connectors {file}: {e.Message}");
            return (false, null);
        }
    }
}
