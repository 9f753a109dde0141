using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>EHLO_KEYWORD_ONLY_IN_TLS: the EHLO reply inside TLS has keywords the plaintext one lacked.</summary>
/// <remarks>STARTTLS vanishing inside TLS is required, and AUTH appearing there is common (AUTH only over TLS), so
/// neither counts. A masked token in plaintext of the same length is named as the likely hiding place.</remarks>
internal sealed class EhloTlsKeywordDetector : IFindingDetector
{
    private static readonly HashSet<string> ExpectedOnlyInTls = new(StringComparer.OrdinalIgnoreCase) { "AUTH", "AUTH=LOGIN" };

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind != EventKinds.Ehlo || !view.TlsStarted || view.PlaintextEhlo is not { } plaintext || ReferenceEquals(plaintext, e))
        {
            return;
        }

        var before = Keywords(plaintext);
        var hidden = Keywords(e).Where(k => !before.Contains(k, StringComparer.OrdinalIgnoreCase) && !ExpectedOnlyInTls.Contains(k)).ToList();
        if (hidden.Count == 0)
        {
            return;
        }

        var masks = before.Where(MaskedText.IsMaskedToken).ToList();
        var described = hidden.Select(k =>
        {
            var mask = masks.FirstOrDefault(m => m.Length == k.Length);
            if (mask is null)
            {
                return k;
            }

            masks.Remove(mask);
            return $"{k} (masked as {mask} there)";
        }).ToList();
        found.Add(FindingCatalog.EhloKeywordOnlyInTls.Create(
            FindingLeg.Upstream,
            $"{string.Join(", ", described)} {(hidden.Count == 1 ? "is" : "are")} offered inside TLS but not in the plaintext EHLO reply",
            [FindingEvidence.Of(plaintext), FindingEvidence.Of(e)],
            new Dictionary<string, object?> { ["keywords"] = hidden, ["plaintextKeywords"] = before }));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }

    private static List<string> Keywords(TranscriptEvent ehlo) =>
        [.. EventFields.Maps(ehlo.Data, "keywords").Select(k => EventFields.Text(k, "keyword") ?? string.Empty).Where(k => k.Length > 0)];
}
