using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>EHLO_REJECTED: EHLO refused with 500/502 (then HELO accepted): ESMTP downgraded in the path.</summary>
internal sealed class EhloRejectedDetector : IFindingDetector
{
    private ObservedReply? _rejected;
    private bool _raised;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (view.CompletedReply is not { } reply)
        {
            return;
        }

        if (reply.Verb == "EHLO" && reply.Code is 500 or 502)
        {
            _rejected ??= reply;
        }
        else if (reply.Verb == "HELO" && reply.Code == 250 && _rejected is { } ehlo && !_raised)
        {
            _raised = true;
            found.Add(FindingCatalog.EhloRejected.Create(
                FindingLeg.Upstream,
                $"EHLO was refused ({ehlo.Lines[^1].Text}) and HELO was accepted: ESMTP is downgraded",
                [.. ehlo.Evidence, .. reply.Evidence]));
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
        if (_rejected is { } ehlo && !_raised)
        {
            found.Add(FindingCatalog.EhloRejected.Create(FindingLeg.Upstream, $"EHLO was refused ({ehlo.Lines[^1].Text}) and no HELO was accepted", ehlo.Evidence));
        }
    }
}
