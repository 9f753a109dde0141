using SmtpLens.Findings;

namespace SmtpLens.Probe.Diff;

/// <summary>The comparison of two snapshots and what it implies.</summary>
internal sealed record DiffResult(
    DialogueSnapshot A,
    DialogueSnapshot B,
    IReadOnlyList<KeywordRow> Keywords,
    IReadOnlyList<KeywordRow> KeywordsInTls,
    bool BannerDiffers,
    bool BannerMaskedInB,
    IReadOnlyList<Finding> Findings)
{
    public int ExitCode => Findings.Any(f => f.Severity >= FindingSeverity.Warning) ? 1 : 0;
}

/// <summary><c>smtplens diff A B</c>: what B's dialogue lacks, masks or adds compared with A's.</summary>
/// <remarks>Typically A is taken where nothing can interfere (inside the firewall, next to the server) and B
/// where the trouble is. EHLO_KEYWORD_STRIPPED is raised per keyword A offers and B does not; its explanation
/// says that different receive connectors legitimately differ, because comparing port 25 with 587, or an
/// internal connector with the internet-facing one, is a valid use that must not read as an attack.</remarks>
internal static class ProbeDiff
{
    public static DiffResult Compare(DialogueSnapshot a, DialogueSnapshot b)
    {
        var keywords = KeywordDiff.Compare(a.Keywords, b.Keywords);
        var inTls = a.EhloInTls is not null && b.EhloInTls is not null ? KeywordDiff.Compare(a.KeywordsInTls, b.KeywordsInTls) : [];
        var bannerA = string.Join("\n", a.Banner.Select(l => l.Text));
        var bannerB = string.Join("\n", b.Banner.Select(l => l.Text));
        var bannerMasked = b.Banner.Count > 0 && MaskedText.IsMaskedBanner(b.Banner[0].Text.Length > 4 ? b.Banner[0].Text[4..] : string.Empty);
        var findings = new List<Finding>();
        foreach (var row in keywords.Where(r => r.Change is KeywordChange.Removed or KeywordChange.Masked))
        {
            findings.Add(Stripped(a, b, row, inTls: false));
        }

        foreach (var row in inTls.Where(r => r.Change is KeywordChange.Removed or KeywordChange.Masked))
        {
            findings.Add(Stripped(a, b, row, inTls: true));
        }

        return new DiffResult(a, b, keywords, inTls, bannerA != bannerB, bannerMasked, findings);
    }

    private static Finding Stripped(DialogueSnapshot a, DialogueSnapshot b, KeywordRow row, bool inTls)
    {
        var where = inTls ? " inside TLS" : string.Empty;
        var title = row.Change == KeywordChange.Masked
            ? $"{row.Keyword} is offered in A and masked as {row.B!.Keyword} in B{where}"
            : $"{row.Keyword} is offered in A and absent in B{where}";
        var ehloA = inTls ? a.EhloInTls : a.Ehlo;
        var ehloB = inTls ? b.EhloInTls : b.Ehlo;
        var evidence = new List<FindingEvidence>();
        if (ehloA is not null)
        {
            evidence.Add(new FindingEvidence(ehloA.Seq, ehloA.Kind, $"A ({a.Session}): {row.A!.Raw}"));
        }

        if (ehloB is not null)
        {
            evidence.Add(new FindingEvidence(ehloB.Seq, ehloB.Kind, $"B ({b.Session}): {(row.B is { } masked ? masked.Raw : ehloB.Text)}"));
        }

        var leading = new List<string>();
        if (row.Change == KeywordChange.Masked)
        {
            leading.Add($"B shows {row.B!.Keyword} where A shows {row.Keyword}: that is how an ESMTP-inspecting firewall (Cisco PIX/ASA and similar) overwrites a keyword, which a different connector would never do.");
        }

        if (a.EhloDomain is { } da && b.EhloDomain is { } db && !string.Equals(da, db, StringComparison.OrdinalIgnoreCase))
        {
            leading.Add($"The EHLO replies name different servers ({da} in A, {db} in B): two different servers or connectors may simply be configured differently.");
        }

        var finding = FindingCatalog.EhloKeywordStripped.Create(
            FindingLeg.Upstream,
            title,
            evidence,
            new Dictionary<string, object?>
            {
                ["keyword"] = row.Keyword,
                ["maskedAs"] = row.Change == KeywordChange.Masked ? row.B!.Keyword : null,
                ["inTls"] = inTls,
                ["a"] = a.Label,
                ["b"] = b.Label,
                ["aSession"] = a.Session,
                ["bSession"] = b.Session,
            },
            leadingCauses: leading);
        return finding with { Session = b.Session };
    }

    public static string BannerText(DialogueSnapshot s) => s.Banner.Count == 0 ? "(none)" : string.Join(" / ", s.Banner.Select(l => l.Text));
}
