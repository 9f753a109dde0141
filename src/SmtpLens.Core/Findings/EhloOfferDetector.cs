using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>STARTTLS_NOT_OFFERED and EHLO_KEYWORD_MASKED, from the EHLO reply before TLS.</summary>
/// <remarks>
/// Inside TLS a server must not offer STARTTLS again (RFC 3207 4.2), so only plaintext replies count.
/// A server without STARTTLS is normal for many internal relays, so the finding is info while mail flows,
/// and a warning when the client gives up right after the EHLO reply (QUIT or close without a MAIL): that is
/// what a sender that requires TLS does, and what seed 000's Exchange Send Connector did. The client's next
/// move decides, so the finding is raised at that command (or at the end if the client just closes).
/// </remarks>
internal sealed class EhloOfferDetector : IFindingDetector
{
    private (TranscriptEvent Ehlo, ObservedReply Reply, List<string> Names, string? MaskedStartTls)? _pending;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind == EventKinds.Command && _pending is { } pending)
        {
            _pending = null;
            var verb = EventFields.Text(e.Data, "verb")?.ToUpperInvariant();
            Raise(pending, verb == "QUIT", verb == "QUIT" ? e : null, found);
            return;
        }

        if (e.Kind != EventKinds.Ehlo || view.TlsStarted || view.LastReply is not { } reply)
        {
            return;
        }

        var keywords = EventFields.Maps(e.Data, "keywords").Select(k => (Keyword: EventFields.Text(k, "keyword") ?? string.Empty, Raw: EventFields.Text(k, "raw") ?? string.Empty)).ToList();
        var names = keywords.Select(k => k.Keyword).ToList();
        string? maskedStartTls = null;
        foreach (var (keyword, raw) in keywords.Where(k => MaskedText.IsMaskedToken(k.Keyword)))
        {
            var candidates = MaskedText.Candidates(keyword, names);
            if (candidates.Count > 0 && candidates[0] == "STARTTLS")
            {
                maskedStartTls ??= keyword;
            }

            var line = reply.Lines.FirstOrDefault(l => l.Text.Contains(raw, StringComparison.Ordinal)) ?? e;
            var guess = candidates.Count == 0 ? "original unknown" : candidates.Count == 1 ? $"most likely {candidates[0]}" : $"most likely {candidates[0]} (or {string.Join(", ", candidates.Skip(1))})";
            found.Add(FindingCatalog.EhloKeywordMasked.Create(
                FindingLeg.Upstream,
                $"EHLO keyword \"{keyword}\" is masked; {keyword.Length} letters, {guess}",
                [FindingEvidence.Of(line)],
                new Dictionary<string, object?> { ["masked"] = keyword, ["length"] = keyword.Length, ["likely"] = candidates.Count > 0 ? candidates[0] : null, ["candidates"] = candidates }));
        }

        _pending = names.Contains("STARTTLS", StringComparer.OrdinalIgnoreCase) ? null : (e, reply, names, maskedStartTls);
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
        if (_pending is { } pending)
        {
            _pending = null;
            Raise(pending, true, view.Disconnect, found);
        }
    }

    /// <param name="gaveUp">The client quit or closed right after the EHLO reply.</param>
    /// <param name="ending">The QUIT or disconnect event, when there is one, for the evidence.</param>
    private static void Raise((TranscriptEvent Ehlo, ObservedReply Reply, List<string> Names, string? MaskedStartTls) pending, bool gaveUp, TranscriptEvent? ending, List<Finding> found)
    {
        var (ehlo, reply, names, maskedStartTls) = pending;
        var leading = new List<string>();
        if (maskedStartTls is not null)
        {
            leading.Add($"The same reply has a masked 8-letter keyword ({maskedStartTls}): an inspecting firewall (Cisco ESMTP inspection or similar) most likely replaced STARTTLS.");
        }

        var domain = EventFields.Text(ehlo.Data, "domain") ?? string.Empty;
        if (domain.EndsWith(".protection.outlook.com", StringComparison.OrdinalIgnoreCase))
        {
            leading.Add("Exchange Online Protection offers STARTTLS to senders it trusts and withdraws it (with other ESMTP verbs) when the sending IP is on a block list (CBL/XBL, Spamhaus or Microsoft's own): check the sending IP's listings first.");
        }

        var title = $"the upstream's EHLO reply has no STARTTLS (keywords {(names.Count == 0 ? "none" : string.Join(", ", names))})";
        if (gaveUp)
        {
            title += ending?.Kind == EventKinds.Command
                ? "; the client quit right after it without sending mail, as a sender that requires TLS does"
                : "; the client closed right after it without sending mail, as a sender that requires TLS does";
        }

        IReadOnlyList<FindingEvidence> evidence = ending is null ? reply.Evidence : [.. reply.Evidence, FindingEvidence.Of(ending)];
        found.Add(FindingCatalog.StartTlsNotOffered.Create(
            FindingLeg.Upstream,
            title,
            evidence,
            new Dictionary<string, object?> { ["ehloDomain"] = domain, ["keywords"] = names, ["clientGaveUp"] = gaveUp },
            severity: gaveUp || maskedStartTls is not null ? FindingSeverity.Warning : FindingSeverity.Info,
            leadingCauses: leading));
    }
}
