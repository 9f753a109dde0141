using System.Text.RegularExpressions;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>TLS_REQUIRED_NOT_STARTED: the server demanded TLS (530 5.7.0, 451 5.7.3 ...) and the session
/// never started it. Decided at the end: a client may still issue STARTTLS after the refusal.</summary>
internal sealed partial class TlsRequiredDetector : IFindingDetector
{
    private ObservedReply? _demand;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (_demand is null && !view.TlsStarted && view.CompletedReply is { Code: >= 400 and < 600 } reply && reply.Verb != "STARTTLS" && DemandsTls(reply.Text))
        {
            _demand = reply;
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
        if (_demand is not { } demand || view.TlsStarted)
        {
            return;
        }

        var leading = new List<string>();
        var offered = view.PlaintextEhlo is { } ehlo && EventFields.Maps(ehlo.Data, "keywords").Any(k => string.Equals(EventFields.Text(k, "keyword"), "STARTTLS", StringComparison.OrdinalIgnoreCase));
        if (view.StartTlsCommand is not null)
        {
            leading.Add("The client did send STARTTLS, but TLS did not start (see STARTTLS_REJECTED or COMMAND_MASKED in this session).");
        }
        else if (view.PlaintextEhlo is null)
        {
            leading.Add("The client used HELO, not EHLO, so it never saw any extension: configure it for ESMTP and TLS.");
        }
        else if (offered)
        {
            leading.Add("STARTTLS was offered in this session and the client did not use it: the sender is not configured for TLS (on Exchange, enable a valid certificate for SMTP with Enable-ExchangeCertificate -Services SMTP).");
        }
        else
        {
            leading.Add("The EHLO reply in this session did not offer STARTTLS, so the client could not meet the demand: the receiver or a device in the path withdrew it (see STARTTLS_NOT_OFFERED: block-listed sending IP, ESMTP inspection). The error text blames the sender, but the cause is on the receiving side.");
        }

        found.Add(FindingCatalog.TlsRequiredNotStarted.Create(
            FindingLeg.Client,
            $"the upstream requires TLS ({demand.Lines[^1].Text}) and the client never started it",
            demand.Evidence,
            new Dictionary<string, object?> { ["code"] = demand.Code, ["starttlsOffered"] = offered },
            leadingCauses: leading));
    }

    /// <summary>Postfix, Exim, Gmail and Exchange phrasings of "start TLS first".</summary>
    public static bool DemandsTls(string text) => Demand().IsMatch(text);

    [GeneratedRegex(@"\bSTARTTLS\b|TLS (is )?required|requires? TLS|encryption required|must (use|issue) (a )?STARTTLS|\b5\.7\.11\b", RegexOptions.IgnoreCase)]
    private static partial Regex Demand();
}
