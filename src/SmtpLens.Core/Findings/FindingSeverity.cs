namespace SmtpLens.Findings;

/// <summary>How much a finding matters. Warning and above make <c>analyze</c> (and <c>probe</c>) exit 1.</summary>
internal enum FindingSeverity
{
    /// <summary>Worth knowing, not a fault (a wildcard certificate).</summary>
    Info,

    /// <summary>Something an admin should fix or explain; mail may still flow.</summary>
    Warning,

    /// <summary>Mail flow or its security is broken in this session.</summary>
    Error,
}
