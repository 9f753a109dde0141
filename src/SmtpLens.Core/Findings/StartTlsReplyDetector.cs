using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>STARTTLS_REJECTED: anything but 220 to STARTTLS (RFC 3207 allows 220, 454 and 501).</summary>
/// <remarks>A refusal that quotes a masked command is COMMAND_MASKED's, not this detector's: the cause is the firewall.</remarks>
internal sealed class StartTlsReplyDetector : IFindingDetector
{
    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (view.CompletedReply is not { Verb: "STARTTLS", Code: not 220 } reply || CommandMaskDetector.MaskedEcho(reply.Text) is not null)
        {
            return;
        }

        var advertised = view.PlaintextEhlo is { } ehlo && EventFields.Maps(ehlo.Data, "keywords").Any(k => string.Equals(EventFields.Text(k, "keyword"), "STARTTLS", StringComparison.OrdinalIgnoreCase));
        var standard = reply.Code is 454 or 501 or 500 or 502 or 503;
        var title = $"STARTTLS {(standard ? "refused" : "answered with a non-standard code")}{(advertised ? string.Empty : " (it was not advertised)")}: {reply.Lines[^1].Text}";
        var leading = new List<string>();
        if (!standard)
        {
            leading.Add($"The server answered STARTTLS with {reply.Code}, which RFC 3207 does not define (220, 454, 501 are): a proxy or a broken server is in the path.");
        }

        found.Add(FindingCatalog.StartTlsRejected.Create(FindingLeg.Upstream, title, reply.Evidence, new Dictionary<string, object?> { ["code"] = reply.Code, ["advertised"] = advertised }, leadingCauses: leading));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
