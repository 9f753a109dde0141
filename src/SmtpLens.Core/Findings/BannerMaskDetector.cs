using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>BANNER_MASKED: a 220 greeting overwritten with asterisks (Cisco SMTP inspection keeps a few digits).</summary>
internal sealed class BannerMaskDetector : IFindingDetector
{
    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (view.CompletedReply is not { IsGreeting: true } greeting)
        {
            return;
        }

        var masked = greeting.Lines.FirstOrDefault(l => l.Text.Length > 4 && MaskedText.IsMaskedBanner(l.Text[4..]));
        if (masked is not null)
        {
            found.Add(FindingCatalog.BannerMasked.Create(FindingLeg.Upstream, $"the greeting is masked: {masked.Text}", greeting.Evidence));
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
