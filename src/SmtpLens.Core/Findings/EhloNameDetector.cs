using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>EHLO_NAME_NOT_IN_CERTIFICATE in both directions: the names the upstream calls itself (banner, EHLO reply)
/// against the certificate it presented, and the sender's EHLO name against the client certificate it presented.</summary>
/// <remarks>Exchange 2013 and later and Exchange Online match the FQDN a server announces against its certificate
/// (seed 003). The upstream's names may arrive after the handshake (implicit TLS) and the sender's EHLO before or after
/// its certificate, so each direction is checked once both halves are known, at the latest when the session ends.</remarks>
internal sealed class EhloNameDetector : IFindingDetector
{
    private (TranscriptEvent Event, IReadOnlyDictionary<string, object?> Leaf)? _upstreamCert;
    private (TranscriptEvent Event, IReadOnlyDictionary<string, object?> Leaf)? _senderCert;
    private TranscriptEvent? _senderEhlo;
    private bool _upstreamChecked;
    private bool _senderChecked;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind == EventKinds.Command && SenderEhloName(e) is not null)
        {
            _senderEhlo ??= e;
        }

        if (TlsLegData.From(e) is { Completed: true } leg)
        {
            if (leg.CertificateIsUpstreams && EventFields.Maps(leg.Data, "serverCertificates").FirstOrDefault() is { } leaf)
            {
                _upstreamCert ??= (e, leaf);
            }

            if (leg.OfferIsSenders && EventFields.Maps(leg.Data, "clientCertificates").FirstOrDefault() is { } sender)
            {
                _senderCert ??= (e, sender);
            }
        }

        // With STARTTLS the banner and the plaintext EHLO reply precede the handshake: report right after it.
        if (_upstreamCert is not null && view.PlaintextEhlo is not null && !_upstreamChecked)
        {
            CheckUpstream(view, found);
        }

        if (_senderCert is not null && _senderEhlo is not null && !_senderChecked)
        {
            CheckSender(found);
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
        if (_upstreamCert is not null && !_upstreamChecked)
        {
            CheckUpstream(view, found);
        }

        if (_senderCert is not null && _senderEhlo is not null && !_senderChecked)
        {
            CheckSender(found);
        }
    }

    private void CheckUpstream(DialogueView view, List<Finding> found)
    {
        _upstreamChecked = true;
        var (legEvent, leaf) = _upstreamCert!.Value;
        var given = new List<(string Name, string Role, TranscriptEvent? Evidence)>();
        if (CertificateDetector.BannerName(view) is { } banner)
        {
            given.Add((banner, "banner", view.Greeting?.Lines[0]));
        }

        var ehlo = view.PlaintextEhlo ?? view.LatestEhlo;
        if (EventFields.Text(ehlo?.Data, "domain") is { } domain && CertificateDetector.IsDnsName(domain))
        {
            given.Add((domain, "EHLO reply", ehlo));
        }

        Report(FindingLeg.Upstream, "the upstream", "its certificate", given, legEvent, leaf, found);
    }

    private void CheckSender(List<Finding> found)
    {
        _senderChecked = true;
        var (legEvent, leaf) = _senderCert!.Value;
        var given = new List<(string Name, string Role, TranscriptEvent? Evidence)>();
        if (SenderEhloName(_senderEhlo!) is { } name && CertificateDetector.IsDnsName(name))
        {
            given.Add((name, "EHLO", _senderEhlo));
        }

        Report(FindingLeg.Client, "the sender", "its client certificate", given, legEvent, leaf, found);
    }

    private static void Report(FindingLeg leg, string who, string whose, List<(string Name, string Role, TranscriptEvent? Evidence)> given, TranscriptEvent legEvent, IReadOnlyDictionary<string, object?> leaf, List<Finding> found)
    {
        var certNames = CertificateDetector.Names(leaf).ToList();
        var misses = given.Where(g => !CertificateDetector.Covers(certNames, g.Name)).ToList();
        if (misses.Count == 0)
        {
            return;
        }

        var named = misses
            .GroupBy(m => m.Name.TrimEnd('.'), StringComparer.OrdinalIgnoreCase)
            .Select(g => $"{g.Key} ({string.Join(", ", g.Select(m => m.Role))})")
            .ToList();
        var evidence = misses.Select(m => m.Evidence).Append(legEvent).OfType<TranscriptEvent>().Distinct().Select(FindingEvidence.Of).ToList();
        found.Add(FindingCatalog.EhloNameNotInCertificate.Create(
            leg,
            $"{who} calls itself {string.Join(", ", named)}, but {whose} ({CertificateDetector.Describe(leaf)}) names only {string.Join(", ", certNames)}; Exchange 2013 and later and Exchange Online require the name to match",
            evidence,
            new Dictionary<string, object?>
            {
                ["namesGiven"] = named,
                ["certificateNames"] = certNames,
                ["subject"] = EventFields.Text(leaf, "subject"),
                ["sha256"] = EventFields.Text(leaf, "sha256"),
                ["enforcedBy"] = new List<string> { "Exchange 2013 and later", "Exchange Online" },
            }));
    }

    /// <summary>The domain argument of an EHLO or HELO command line.</summary>
    private static string? SenderEhloName(TranscriptEvent e)
    {
        var verb = EventFields.Text(e.Data, "verb");
        if (!string.Equals(verb, "EHLO", StringComparison.OrdinalIgnoreCase) && !string.Equals(verb, "HELO", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var parts = e.Text.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 ? parts[1] : null;
    }
}
