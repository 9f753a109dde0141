namespace SmtpLens.Configuration;

/// <summary>The bindable settings tree: JSON file, then SMTPLENS_* environment variables, then options.</summary>
/// <remarks>Mutable because Microsoft.Extensions.Configuration binds by setting properties.</remarks>
internal sealed class SmtpLensSettings
{
    public List<ListenerConfig> Listeners { get; set; } = [];

    /// <summary>Directory for per-session transcripts; none are written when unset.</summary>
    public string? Transcripts { get; set; }

    public bool CaptureMessages { get; set; }

    /// <summary>Octal mode of transcripts, captured messages and the findings file (default 0600; directories get x with r).</summary>
    public string TranscriptMode { get; set; } = "0600";

    /// <summary>Append one JSON line per finding, across all sessions, to this file.</summary>
    public string? Findings { get; set; }

    /// <summary>Directory for per-session pcapng captures (both legs, TLS secrets embedded); none when unset.</summary>
    public string? Pcap { get; set; }

    public bool Redact { get; set; } = true;

    /// <summary>Rolling log file in addition to the console.</summary>
    public string? LogFile { get; set; }

    public string LogLevel { get; set; } = "Information";

    /// <summary>Names this instance in every JSON record; defaults to the host name.</summary>
    public string? Instance { get; set; }

    public LimitsConfig Limits { get; set; } = new();

    public TlsConfig Tls { get; set; } = new();
}

/// <summary>TLS handling, shared by every listener.</summary>
internal sealed class TlsConfig
{
    /// <summary>intercept or passthrough; unset means intercept when a CA exists in CaDirectory, else passthrough.</summary>
    public string? Mode { get; set; }

    public string CaDirectory { get; set; } = "certs";

    /// <summary>Also offer and accept TLS 1.0/1.1, CBC-SHA, static RSA, 3DES and RC4 (to reproduce old appliances).</summary>
    public bool Legacy { get; set; }

    /// <summary>No effect: TLS 1.3 is on by default (cap it with MaxVersion). Kept so older settings files still load.</summary>
    public bool Tls13 { get; set; }

    /// <summary>Highest TLS version on both legs, e.g. "1.2" (default: 1.3, following what each client offers).</summary>
    public string? MaxVersion { get; set; }

    public bool VerifyUpstream { get; set; }

    /// <summary>PEM file of extra roots trusted for upstream certificates (a private PKI).</summary>
    public string? UpstreamCa { get; set; }

    public bool RequestClientCertificate { get; set; }

    /// <summary>PEM certificate (chain) and key, or a PFX, presented upstream when asked.</summary>
    public string? ClientCertificate { get; set; }

    public string? ClientKey { get; set; }

    /// <summary>Present upstream a certificate forged from our CA that mirrors the sender's CN/SAN.</summary>
    public bool MirrorClientCertificate { get; set; }

    /// <summary>A static certificate for the client leg instead of forged ones.</summary>
    public string? ServerCertificate { get; set; }

    public string? ServerKey { get; set; }

    /// <summary>NSS key-log file for both legs (CLIENT_RANDOM up to TLS 1.2, the TLS 1.3 secrets otherwise).</summary>
    public string? KeyLog { get; set; }

    public double HandshakeTimeoutSeconds { get; set; } = 30;
}

internal sealed class ListenerConfig
{
    public string? Name { get; set; }

    public string? Listen { get; set; }

    public string? Upstream { get; set; }

    /// <summary>Port-465 style: TLS from the first byte.</summary>
    public bool ImplicitTls { get; set; }

    /// <summary>static (default), original-destination (REDIRECT/DNAT) or tproxy.</summary>
    public string? Route { get; set; }

    /// <summary>tproxy only: connect upstream from the client's own address.</summary>
    public bool SpoofSource { get; set; }

    /// <summary>Expect a PROXY protocol header from a balancer: none (default), v1, v2 or optional.</summary>
    public string? ProxyProtocol { get; set; }

    /// <summary>Send a PROXY protocol header upstream: none (default), v1 or v2.</summary>
    public string? SendProxy { get; set; }

    /// <summary>Simulation rules in --simulate syntax, e.g. "strip-keywords=STARTTLS". Empty: none.</summary>
    public List<string> Simulate { get; set; } = [];
}

internal sealed class LimitsConfig
{
    public int MaxLineLength { get; set; } = 16 * 1024;

    public double IdleTimeoutSeconds { get; set; } = 300;

    public double MaxSessionSeconds { get; set; } = 3600;

    public double ConnectTimeoutSeconds { get; set; } = 30;

    /// <summary>On SIGTERM/SIGINT, seconds open sessions may still run before they are ended (0: end them at once).</summary>
    public double ShutdownGraceSeconds { get; set; } = 30;
}
