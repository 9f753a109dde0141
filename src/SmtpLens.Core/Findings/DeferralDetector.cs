using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>UPSTREAM_DEFERRAL: a 4xx to MAIL, RCPT, DATA (or the content after it) or BDAT, quoted.</summary>
internal sealed class DeferralDetector : IFindingDetector
{
    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (view.CompletedReply is not { Code: >= 400 and < 500, Verb: "MAIL" or "RCPT" or "DATA" or "BDAT" } reply)
        {
            return;
        }

        var what = reply.EndOfData ? "message content" : reply.Verb;
        var leading = TlsRequiredDetector.DemandsTls(reply.Text) ? new[] { "The reply asks for TLS: see TLS_REQUIRED_NOT_STARTED." } : [];
        found.Add(FindingCatalog.UpstreamDeferral.Create(
            FindingLeg.Upstream,
            $"{what} deferred: {string.Join(" ", reply.Lines.Select(l => l.Text))}",
            reply.Evidence,
            new Dictionary<string, object?> { ["command"] = what, ["code"] = reply.Code },
            leadingCauses: leading));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
