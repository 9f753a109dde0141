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

    /// <summary>Offer STARTTLS with this certificate (with private key); null offers no TLS.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; init; }

    /// <summary>Port-465 style: TLS from the first byte.</summary>
    public bool ImplicitTls { get; init; }

    /// <summary>TLS versions the server accepts (framework TLS: 1.2 and 1.3 by default).</summary>
    public System.Security.Authentication.SslProtocols TlsProtocols { get; init; } = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;

    /// <summary>Speak TLS with BouncyCastle instead of the framework, with this identity and policy:
    /// the only way to be a TLS 1.0/RC4 peer, since OpenSSL 3 has no RC4.</summary>
    public (SmtpLens.Tls.TlsIdentity Identity, SmtpLens.Tls.TlsPolicy Policy)? BouncyTls { get; init; }

    /// <summary>Advertise STARTTLS but answer it with 454 4.7.0, as a server with a broken TLS setup does.</summary>
    public bool RefuseStartTls { get; init; }

    /// <summary>Ask TLS clients for a certificate and keep what they send.</summary>
    public bool RequestClientCertificate { get; init; }

    /// <summary>Judges the client's certificate (null when it sent none); false fails the handshake.
    /// Unset, every client is accepted, as a receiver that only records certificates would.</summary>
    public Func<System.Security.Cryptography.X509Certificates.X509Certificate?, bool>? AcceptClientCertificate { get; init; }

    /// <summary>Before TLS, MAIL gets this reply, e.g. "530 5.7.0 Must issue a STARTTLS command first".</summary>
    public string? RequireTlsReply { get; init; }

    /// <summary>Replies given instead of the normal handling of a verb: a block-list rejection of MAIL, a 4xx
    /// deferral of RCPT or DATA. The transaction does not advance past a refused command.</summary>
    public IReadOnlyDictionary<SmtpLens.Protocol.SmtpVerb, string> Refusals { get; init; } = new Dictionary<SmtpLens.Protocol.SmtpVerb, string>();

    /// <summary>Close the connection, without a word, right after a completed TLS handshake (seed 002).</summary>
    public bool DropAfterTlsHandshake { get; init; }

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
