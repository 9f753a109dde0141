namespace SmtpLens.Report;

/// <summary>How a session ended for the mail in it, as the report groups sessions.</summary>
internal enum SessionOutcome
{
    /// <summary>At least one message was accepted (2xx after its content).</summary>
    Delivered,

    /// <summary>A temporary failure: a 4xx to the mail, or 421 (from the upstream or from SmtpLens).</summary>
    Deferred,

    /// <summary>A permanent failure: a 5xx to the mail or as the greeting.</summary>
    Rejected,

    /// <summary>A TLS handshake failed on a leg, or non-TLS bytes came where a handshake belonged.</summary>
    TlsFailed,

    /// <summary>Everything else: the session ended with no mail accepted, deferred or rejected.</summary>
    Aborted,
}

internal static class SessionOutcomes
{
    /// <summary>The names the report's JSON and filters use.</summary>
    public static string Name(SessionOutcome outcome) => outcome switch
    {
        SessionOutcome.Delivered => "delivered",
        SessionOutcome.Deferred => "deferred",
        SessionOutcome.Rejected => "rejected",
        SessionOutcome.TlsFailed => "tls-failed",
        _ => "aborted",
    };
}
