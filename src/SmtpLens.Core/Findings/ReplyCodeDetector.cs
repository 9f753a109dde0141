using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>REPLY_CODE_INCONSISTENT: one multi-line reply, several codes (RFC 5321 4.2.1 requires one).</summary>
internal sealed class ReplyCodeDetector : IFindingDetector
{
    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (view.CompletedReply is not { Lines.Count: > 1 } reply)
        {
            return;
        }

        var codes = reply.Lines.Select(l => EventFields.Int(l.Data, "code") ?? 0).Distinct().ToList();
        if (codes.Count > 1)
        {
            var to = reply.IsGreeting ? "the greeting" : reply.EndOfData ? "message content" : reply.Verb;
            found.Add(FindingCatalog.ReplyCodeInconsistent.Create(FindingLeg.Upstream, $"a multi-line reply to {to} mixes codes {string.Join("/", codes)}", reply.Evidence, new Dictionary<string, object?> { ["codes"] = codes }));
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
