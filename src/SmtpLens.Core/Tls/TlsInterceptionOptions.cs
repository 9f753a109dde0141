namespace SmtpLens.Tls;

/// <summary>What SmtpLens does when a session turns to TLS.</summary>
internal enum TlsMode
{
    /// <summary>Terminate TLS on the client leg and re-originate it upstream; the dialogue stays readable.</summary>
    Intercept,

    /// <summary>Relay TLS records untouched; record the cleartext handshake only.</summary>
    Passthrough,
}

/// <summary>Which certificate SmtpLens presents upstream when the upstream asks for one.</summary>
internal enum UpstreamClientCertificate
{
    None,

    /// <summary>A configured certificate and key (PEM or PFX).</summary>
    Static,

    /// <summary>Forged from our CA, mirroring the sending MTA's certificate subject and SANs.</summary>
    Mirror,
}

internal sealed record TlsInterceptionOptions
{
    public TlsMode Mode { get; init; } = TlsMode.Intercept;

    /// <summary>Versions and suites accepted from the client.</summary>
    public TlsPolicy ClientPolicy { get; init; } = TlsPolicy.Default;

    /// <summary>Versions and suites offered to the upstream.</summary>
    public TlsPolicy UpstreamPolicy { get; init; } = TlsPolicy.Default;

    /// <summary>Signs forged certificates. Needed for interception unless a static identity is set.</summary>
    public CertificateAuthority? Authority { get; init; }

    /// <summary>A fixed certificate for the client leg instead of forged ones.</summary>
    public TlsIdentity? StaticServerIdentity { get; init; }

    /// <summary>Always ask the client for a certificate (optional for the client) and record it. Mirror mode asks
    /// whenever the upstream asked SmtpLens, as the real server would have.</summary>
    public bool RequestClientCertificate { get; init; }

    /// <summary>Whether the client leg asks the sender for a certificate, given whether the upstream asked.</summary>
    public bool AsksClientForCertificate(bool upstreamAsked) =>
        RequestClientCertificate || (UpstreamClientCertificate == UpstreamClientCertificate.Mirror && upstreamAsked);

    public UpstreamClientCertificate UpstreamClientCertificate { get; init; }

    public TlsIdentity? StaticClientIdentity { get; init; }

    /// <summary>Roots trusted for upstream chains besides the system store (--upstream-ca), e.g. a private PKI.</summary>
    public IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2> UpstreamTrustAnchors { get; init; } = [];

    /// <summary>Refuse upstreams whose chain or name does not validate (--verify-upstream).</summary>
    public bool VerifyUpstream { get; init; }

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public NssKeyLog? KeyLog { get; init; }
}
