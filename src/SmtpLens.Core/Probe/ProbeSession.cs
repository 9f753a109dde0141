using SmtpLens.Findings;
using SmtpLens.Net;
using SmtpLens.Protocol;
using SmtpLens.StateMachine;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe;

/// <summary>Everything one probe connection saw, and its transcript events for the detectors.</summary>
internal sealed class ProbeSession(string sessionId, HostPort target, TlsOffer? offer)
{
    public string SessionId { get; } = sessionId;

    public HostPort Target { get; } = target;

    /// <summary>Set for the extra connections that test one restricted TLS offer.</summary>
    public TlsOffer? Offer { get; } = offer;

    public List<TranscriptEvent> Events { get; } = [];

    public string? RemoteEndPoint { get; set; }

    public string? LocalEndPoint { get; set; }

    public SmtpReply? Banner { get; set; }

    /// <summary>The reply to the first EHLO (or the HELO that followed a refused EHLO).</summary>
    public SmtpReply? HelloReply { get; set; }

    public EhloReply? EhloBeforeTls { get; set; }

    public bool StartTlsOffered => EhloBeforeTls?.Has("STARTTLS") == true;

    public bool StartTlsAttempted { get; set; }

    public SmtpReply? StartTlsReply { get; set; }

    public TlsLegRecord? Tls { get; set; }

    public SmtpReply? HelloReplyInTls { get; set; }

    public EhloReply? EhloInTls { get; set; }

    /// <summary>The VRFY sent instead of TLS to see whether the server demands it.</summary>
    public SmtpReply? TlsRequirementCheck { get; set; }

    public SmtpReply? QuitReply { get; set; }

    public SessionEndReason End { get; set; } = SessionEndReason.Quit;

    /// <summary>Why the probe could not complete: no connection, no SMTP, a vanished server. Exit code 2.</summary>
    public string? Error { get; set; }

    /// <summary>A problem that is itself the diagnosis (the server dropped the connection after TLS).</summary>
    public string? Note { get; set; }

    /// <summary>What the detectors concluded from <see cref="Events"/>.</summary>
    public IReadOnlyList<Finding> Findings { get; set; } = [];

    public EhloComparison KeywordChanges => EhloComparison.Compare(EhloBeforeTls, EhloInTls);
}
