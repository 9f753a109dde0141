namespace SmtpLens.StateMachine;

/// <summary>Every way a session can end. The names appear in summaries and logs.</summary>
internal enum SessionEndReason
{
    /// <summary>QUIT was answered and the connection closed.</summary>
    Quit,

    /// <summary>The client closed between commands without QUIT.</summary>
    ClientClosed,

    /// <summary>The client closed in the middle of a command line.</summary>
    ClientClosedMidLine,

    /// <summary>The client closed during DATA or a BDAT chunk; the upstream saw no end of message.</summary>
    ClientClosedMidMessage,

    /// <summary>The upstream closed the connection.</summary>
    UpstreamClosed,

    /// <summary>The upstream closed in the middle of a reply line.</summary>
    UpstreamClosedMidLine,

    /// <summary>The upstream closed while the client was sending a message; the client got no reply from us.</summary>
    UpstreamClosedMidMessage,

    /// <summary>The upstream could not be reached; the client got 421 4.4.0.</summary>
    UpstreamUnreachable,

    /// <summary>Reading from or writing to the client failed (reset, broken pipe).</summary>
    ClientError,

    /// <summary>Reading from or writing to the upstream failed.</summary>
    UpstreamError,

    /// <summary>Neither side sent anything for the idle timeout.</summary>
    IdleTimeout,

    /// <summary>The session exceeded the maximum session length.</summary>
    SessionTimeLimit,

    /// <summary>A command line exceeded the line-length limit.</summary>
    CommandLineTooLong,

    /// <summary>A reply line exceeded the line-length limit.</summary>
    ReplyLineTooLong,

    /// <summary>A TLS handshake failed on either leg; the transcript names the leg, the alert and who raised it.</summary>
    TlsHandshakeFailed,

    /// <summary>Something other than TLS arrived where a ClientHello belonged (garbage, plain SMTP, SSLv2).</summary>
    TlsProtocolError,

    /// <summary>A simulation rule (drop-after-handshake) closed the session on purpose.</summary>
    SimulatedDrop,

    /// <summary>The listener expects a PROXY protocol header and it was missing or malformed; nothing was relayed.</summary>
    ProxyHeaderRejected,

    /// <summary>A transparent listener found no destination to relay to (not redirected, or it was SmtpLens itself); the client got 421 4.4.0.</summary>
    NoOriginalDestination,

    /// <summary>The proxy is shutting down.</summary>
    Shutdown,

    /// <summary>A bug in SmtpLens; the log has the exception.</summary>
    InternalError,
}
