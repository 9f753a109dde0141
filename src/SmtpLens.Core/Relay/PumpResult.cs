using SmtpLens.StateMachine;

namespace SmtpLens.Relay;

/// <summary>How one relay direction stopped. Pumps return this instead of throwing, so the session can
/// tell which side failed.</summary>
internal enum PumpOutcome
{
    /// <summary>The dialogue ended for <see cref="PumpResult.Reason"/> (a close, a limit).</summary>
    Ended,

    /// <summary>STARTTLS succeeded; the session switches both legs to TLS.</summary>
    TlsUpgrade,

    /// <summary>Reading from this pump's source failed.</summary>
    ReadError,

    /// <summary>Writing to this pump's destination failed.</summary>
    WriteError,

    /// <summary>The shared token fired: the other side failed, a timeout, or shutdown.</summary>
    Canceled,
}

internal readonly record struct PumpResult(PumpOutcome Outcome, SessionEndReason Reason, Exception? Error = null);
