using SmtpLens.Findings;

namespace SmtpLens.Probe.Diff;

internal enum KeywordChange
{
    Same,

    /// <summary>Both offer it, with different parameters (SIZE 10240000 against SIZE 52428800).</summary>
    ParametersDiffer,

    /// <summary>A offers it, B does not.</summary>
    Removed,

    /// <summary>A offers it, B shows filler of the same length in its place (250-XXXXXXXA).</summary>
    Masked,

    /// <summary>B offers it, A does not.</summary>
    Added,
}

/// <summary>One row of the side-by-side keyword table.</summary>
internal sealed record KeywordRow(string Keyword, SnapshotKeyword? A, SnapshotKeyword? B, KeywordChange Change);

/// <summary>Pairs A's and B's EHLO keywords; a keyword missing from B is "masked" when B has a filler token of
/// the same length that A does not, the way Cisco ESMTP inspection writes XXXXXXXA for STARTTLS.</summary>
internal static class KeywordDiff
{
    public static IReadOnlyList<KeywordRow> Compare(IReadOnlyList<SnapshotKeyword> a, IReadOnlyList<SnapshotKeyword> b)
    {
        var rows = new List<KeywordRow>();
        var unusedMasks = b.Where(k => MaskedText.IsMaskedToken(k.Keyword) && !a.Any(x => Same(x, k))).ToList();
        foreach (var ka in a)
        {
            var kb = b.FirstOrDefault(k => Same(k, ka));
            if (kb is not null)
            {
                rows.Add(new KeywordRow(ka.Keyword, ka, kb, string.Equals(ka.Parameters, kb.Parameters, StringComparison.OrdinalIgnoreCase) ? KeywordChange.Same : KeywordChange.ParametersDiffer));
                continue;
            }

            var mask = unusedMasks.FirstOrDefault(m => m.Keyword.Length == ka.Keyword.Length);
            if (mask is not null)
            {
                unusedMasks.Remove(mask);
                rows.Add(new KeywordRow(ka.Keyword, ka, mask, KeywordChange.Masked));
            }
            else
            {
                rows.Add(new KeywordRow(ka.Keyword, ka, null, KeywordChange.Removed));
            }
        }

        foreach (var kb in b.Where(k => !a.Any(x => Same(x, k)) && !rows.Any(r => ReferenceEquals(r.B, k))))
        {
            rows.Add(new KeywordRow(kb.Keyword, null, kb, KeywordChange.Added));
        }

        return rows;
    }

    private static bool Same(SnapshotKeyword x, SnapshotKeyword y) => string.Equals(x.Keyword, y.Keyword, StringComparison.OrdinalIgnoreCase);
}
