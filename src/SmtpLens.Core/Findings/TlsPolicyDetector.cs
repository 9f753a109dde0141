using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>TLS_POLICY_WOULD_FAIL: a <c>tls-policy</c> verdict of fail for a policy the user said the real sender uses
/// (--sender-policy). Read from the event, so <c>analyze</c> of a saved transcript raises the same finding.</summary>
internal sealed class TlsPolicyDetector : IFindingDetector
{
    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind != EventKinds.TlsPolicy || EventFields.Bool(e.Data, "sender") != true || EventFields.Text(e.Data, "verdict") != "fail")
        {
            return;
        }

        var policy = EventFields.Text(e.Data, "policy") ?? "?";
        var reason = EventFields.Text(e.Data, "reason") ?? "?";
        found.Add(FindingCatalog.TlsPolicyWouldFail.Create(
            FindingLeg.Upstream,
            $"the sender's policy {policy} would refuse this upstream: {reason}",
            [FindingEvidence.Of(e)],
            new Dictionary<string, object?>
            {
                ["policy"] = policy,
                ["reason"] = reason,
                ["resultType"] = EventFields.Text(e.Data, "resultType"),
                ["mxHost"] = EventFields.Text(e.Data, "mxHost"),
            }));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
