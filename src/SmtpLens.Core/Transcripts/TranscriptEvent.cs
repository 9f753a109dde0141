namespace SmtpLens.Transcripts;

/// <summary>Who produced the bytes an event describes.</summary>
internal enum Direction
{
    /// <summary>The sending MTA (transcript prefix <c>C:</c>, Exchange event <c>&gt;</c>).</summary>
    Client,

    /// <summary>The upstream receiving MTA (<c>S:</c>, Exchange <c>&lt;</c>).</summary>
    Server,

    /// <summary>SmtpLens itself: connects, limits, errors, TLS (<c>*</c>).</summary>
    Proxy,
}

/// <summary>One transcript entry. The JSON Lines schema is documented in README.md and is stable.</summary>
internal sealed record TranscriptEvent(
    string Session,
    long Seq,
    DateTimeOffset Timestamp,
    Direction Direction,
    string Kind,
    string Text,
    IReadOnlyDictionary<string, object?>? Data)
{
    private string? _timestampText;

    /// <summary>UTC, millisecond precision, formatted once and shared by every format.</summary>
    public string TimestampText => _timestampText ??= FormatTimestamp(Timestamp);

    /// <summary>Takes an earlier event's text when both fall in the same millisecond, saving a string per event.</summary>
    internal void ReuseTimestampText(TranscriptEvent earlier)
    {
        if (_timestampText is null && earlier._timestampText is { } text
            && earlier.Timestamp.UtcTicks / TimeSpan.TicksPerMillisecond == Timestamp.UtcTicks / TimeSpan.TicksPerMillisecond)
        {
            _timestampText = text;
        }
    }

    public static string FormatTimestamp(DateTimeOffset timestamp)
    {
        // The round-trip format has a fast path; custom format strings do not.
        Span<char> buffer = stackalloc char[40];
        timestamp.UtcDateTime.TryFormat(buffer, out var written, "O", System.Globalization.CultureInfo.InvariantCulture);
        return written >= 23 ? string.Concat(buffer[..23], "Z") : buffer[..written].ToString();
    }
}

/// <summary>The stable event kinds; these names are part of the JSON Lines interface.</summary>
internal static class EventKinds
{
    /// <summary>One sending TLS policy's verdict on the session (Policy/).</summary>
    public const string TlsPolicy = "tls-policy";

    public const string Connect = "connect";
    public const string UpstreamConnect = "upstream-connect";
    public const string UpstreamFailed = "upstream-failed";
    public const string ProxyReply = "proxy-reply";
    public const string Command = "command";
    public const string Reply = "reply";
    public const string AuthResponse = "auth-response";
    public const string Ehlo = "ehlo";
    public const string Message = "message";
    public const string Bdat = "bdat";
    public const string Transaction = "transaction";
    public const string Anomaly = "anomaly";
    public const string Limit = "limit";
    public const string Error = "error";
    public const string StartTls = "starttls";
    public const string TlsClientHello = "tls-clienthello";
    public const string TlsHandshake = "tls";
    public const string TlsCertificate = "tls-certificate";
    public const string TlsAlert = "tls-alert";
    public const string TlsFailed = "tls-failed";
    public const string Disconnect = "disconnect";
    public const string Summary = "summary";

    /// <summary>A PROXY protocol header received (or rejected) from a balancer, or sent upstream.</summary>
    public const string ProxyHeader = "proxy-header";

    /// <summary>Something a simulation rule changed or answered; never an observation.</summary>
    public const string Simulation = "simulation";
}

/// <summary>Where the dialogue tracker sends what it observes; the session transcript in production.</summary>
internal interface ITranscriptRecorder
{
    void Record(Direction direction, string kind, string text, IReadOnlyDictionary<string, object?>? data = null);
}
