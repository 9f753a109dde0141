namespace SmtpLens.Lab;

/// <summary>How the built-in upstream behaves. Later scenarios vary these to reproduce incidents.</summary>
internal sealed record LabServerOptions
{
    public string Hostname { get; init; } = "lab-upstream.smtplens.test";

    /// <summary>The greeting after "220 ".</summary>
    public string? Banner { get; init; }

    /// <summary>EHLO keywords in the order they are advertised.</summary>
    public IReadOnlyList<string> Keywords { get; init; } =
        ["PIPELINING", "SIZE 157286400", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING", "BINARYMIME", "AUTH PLAIN LOGIN", "SMTPUTF8"];

    /// <summary>Where accepted messages are written as .eml files; null keeps only their digests.</summary>
    public string? MailDirectory { get; init; }

    public int MaxLineLength { get; init; } = 4096;

    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Fault injection: abort the connection after this many content bytes of a message.</summary>
    public long? DropAfterContentBytes { get; init; }
}

/// <summary>One message the lab upstream accepted.</summary>
internal sealed record ReceivedMessage(
    int Number,
    string MailFrom,
    IReadOnlyList<string> Recipients,
    string Method,
    long Size,
    string Sha256,
    string? Path);
