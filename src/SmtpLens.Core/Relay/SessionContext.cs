using Microsoft.Extensions.Logging;
using SmtpLens.Configuration;
using SmtpLens.Connectors;
using SmtpLens.Findings;
using SmtpLens.Policy;
using SmtpLens.Tls;
using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;

namespace SmtpLens.Relay;

/// <summary>What every session on one listener shares.</summary>
internal sealed record SessionContext(
    ListenerSettings Listener,
    RelayOptions Relay,
    TranscriptOptions Transcripts,
    TimeProvider Time,
    ILogger Log)
{
    /// <summary>TLS handling for this listener; null relays STARTTLS sessions in passthrough.</summary>
    public TlsInterceptionOptions? Tls { get; init; }

    /// <summary>The <c>--findings</c> file shared by every session, or null.</summary>
    public FindingsLog? FindingsLog { get; init; }

    /// <summary><c>--connectors FILE</c>: which inbound connector each sender would land on, shared by every session.</summary>
    public ConnectorWatch? Connectors { get; init; }

    /// <summary><c>--check-revocation</c>: CRL and OCSP checks of both chains, off the relay path; null when off.</summary>
    public RevocationChecker? Revocation { get; init; }

    /// <summary><c>--pcap DIR</c>: each session writes <c>&lt;session&gt;.pcapng</c> there; null writes none.</summary>
    public string? PcapDirectory { get; init; }

    /// <summary>How each session is judged against the sending TLS policies (tls-policy events); lookups off by default.</summary>
    public PolicySettings Policies { get; init; } = new();

    /// <summary>The DANE and MTA-STS lookups (with the per-domain MTA-STS cache) shared by every session, when --policy-lookups.</summary>
    public PolicyLookups? PolicyLookups { get; init; }

    public TlsInterceptor? Interceptor => Tls is { Mode: TlsMode.Intercept } tls ? _interceptor ??= new TlsInterceptor(tls, Time) : null;

    private TlsInterceptor? _interceptor;
}
