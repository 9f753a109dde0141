using SmtpLens.Protocol;

namespace SmtpLens.Probe;

/// <summary>How the EHLO keywords inside TLS differ from those offered in plaintext on the same connection.</summary>
/// <remarks>STARTTLS disappearing is required (RFC 3207 4.2) and AUTH appearing is common (AUTH only over TLS),
/// so those are "expected". Any other keyword seen only inside TLS was hidden from the plaintext dialogue,
/// which points to a middlebox that filters ESMTP it can read.</remarks>
internal sealed record EhloComparison(IReadOnlyList<EhloKeyword> OnlyBefore, IReadOnlyList<EhloKeyword> OnlyInTls, IReadOnlyList<(EhloKeyword Before, EhloKeyword InTls)> ParametersChanged)
{
    public static readonly EhloComparison None = new([], [], []);

    public bool IsEmpty => OnlyBefore.Count == 0 && OnlyInTls.Count == 0 && ParametersChanged.Count == 0;

    /// <summary>Keywords inside TLS that plaintext lacked, other than the ones servers legitimately add there.</summary>
    public IReadOnlyList<EhloKeyword> HiddenFromPlaintext => [.. OnlyInTls.Where(k => !IsExpectedOnlyInTls(k.Keyword))];

    public static bool IsExpectedOnlyBefore(string keyword) => keyword == "STARTTLS";

    public static bool IsExpectedOnlyInTls(string keyword) => keyword is "AUTH" or "AUTH=LOGIN";

    public static EhloComparison Compare(EhloReply? before, EhloReply? inTls)
    {
        if (before is null || inTls is null)
        {
            return None;
        }

        var onlyBefore = before.Keywords.Where(k => !inTls.Has(k.Keyword)).ToList();
        var onlyInTls = inTls.Keywords.Where(k => !before.Has(k.Keyword)).ToList();
        var changed = before.Keywords
            .Select(b => (Before: b, InTls: inTls.Keywords.FirstOrDefault(t => t.Keyword == b.Keyword)))
            .Where(p => p.InTls is not null && !string.Equals(p.Before.Parameters, p.InTls.Parameters, StringComparison.OrdinalIgnoreCase))
            .Select(p => (p.Before, p.InTls!))
            .ToList();
        return new EhloComparison(onlyBefore, onlyInTls, changed);
    }
}
