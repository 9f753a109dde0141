using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>STARTTLS_NOT_OFFERED and EHLO_KEYWORD_MASKED, from the EHLO reply before TLS.</summary>
/// <remarks>Inside TLS a server must not offer STARTTLS again (RFC 3207 4.2), so only plaintext replies count.</remarks>
internal sealed class EhloOfferDetector : IFindingDetector
{
    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind != EventKinds.Ehlo || view.TlsStarted || view.LastReply is not { } reply)
        {
            return;
        }

        var keywords = EventFields.Maps(e.Data, "keywords").Select(k => (Keyword: EventFields.Text(k, "keyword") ?? string.Empty, Raw: EventFields.Text(k, "raw") ?? string.Empty)).ToList();
        var names = keywords.Select(k => k.Keyword).ToList();
        var masked = new List<(string Keyword, IReadOnlyList<string> Candidates)>();
        foreach (var (keyword, raw) in keywords.Where(k => MaskedText.IsMaskedToken(k.Keyword)))
        {
            var candidates = MaskedText.Candidates(keyword, names);
            masked.Add((keyword, candidates));
            var line = reply.Lines.FirstOrDefault(l => l.Text.Contains(raw, StringComparison.Ordinal)) ?? e;
            var guess = candidates.Count == 0 ? "original unknown" : candidates.Count == 1 ? $"most likely {candidates[0]}" : $"most likely {candidates[0]} (or {string.Join(", ", candidates.Skip(1))})";
            found.Add(FindingCatalog.EhloKeywordMasked.Create(
                FindingLeg.Upstream,
                $"EHLO keyword \"{keyword}\" is masked; {keyword.Length} letters, {guess}",
                [FindingEvidence.Of(line)],
                new Dictionary<string, object?> { ["masked"] = keyword, ["length"] = keyword.Length, ["likely"] = candidates.Count > 0 ? candidates[0] : null, ["candidates"] = candidates }));
        }

        if (names.Contains("STARTTLS", StringComparer.OrdinalIgnoreCase))
        {
            return;
        }

        var leading = new List<string>();
        if (masked.FirstOrDefault(m => m.Candidates.Count > 0 && m.Candidates[0] == "STARTTLS") is { Keyword: { } maskedStartTls })
        {
            leading.Add($"The same reply has a masked 8-letter keyword ({maskedStartTls}): an inspecting firewall (Cisco ESMTP inspection or similar) most likely replaced STARTTLS.");
        }

        var domain = EventFields.Text(e.Data, "domain") ?? string.Empty;
        if (domain.EndsWith(".protection.outlook.com", StringComparison.OrdinalIgnoreCase))
        {
            leading.Add("Exchange Online Protection offers STARTTLS to every sender it trusts: it withdraws STARTTLS (and other ESMTP verbs) when the sending IP is on a block list (CBL/XBL, Spamhaus or Microsoft's own). Check the sending IP's listings first.");
        }

        found.Add(FindingCatalog.StartTlsNotOffered.Create(
            FindingLeg.Upstream,
            $"the upstream's EHLO reply has no STARTTLS (keywords {(names.Count == 0 ? "none" : string.Join(", ", names))})",
            reply.Evidence,
            new Dictionary<string, object?> { ["ehloDomain"] = domain, ["keywords"] = names },
            leadingCauses: leading));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
