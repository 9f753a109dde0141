namespace SmtpLens.Capture;

/// <summary>The two TCP connections of a session; the value is the pcapng interface id of the leg.</summary>
internal enum CaptureLeg
{
    /// <summary>Sending MTA to SmtpLens: the client opened it.</summary>
    Client = 0,

    /// <summary>SmtpLens to the next hop: SmtpLens opened it.</summary>
    Upstream = 1,
}
