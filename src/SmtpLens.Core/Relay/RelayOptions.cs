namespace SmtpLens.Relay;

/// <summary>Limits and timeouts for each relayed session. Defaults suit a live incident on real MTAs.</summary>
internal sealed record RelayOptions
{
    /// <summary>Longest command or reply line, CRLF included (RFC 5321 asks 512/1000; real MTAs exceed it).</summary>
    public int MaxLineLength { get; init; } = 16 * 1024;

    /// <summary>Neither side sent a byte for this long: the session ends (RFC 5321 4.5.3.2 suggests 5 minutes).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Hard cap on one session, however active.</summary>
    public TimeSpan MaxSessionDuration { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long to wait for the upstream's TCP connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After the client closes, how long the upstream may still send its last replies.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>On SIGTERM/SIGINT, how long open sessions may still run to their end before they are closed.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(30);
}
