using Microsoft.Extensions.Logging;
using SmtpLens.Configuration;
using SmtpLens.Findings;
using SmtpLens.Tls;
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

    /// <summary><c>--pcap DIR</c>: each session writes <c>&lt;session&gt;.pcapng</c> there; null writes none.</summary>
    public string? PcapDirectory { get; init; }

    public TlsInterceptor? Interceptor => Tls is { Mode: TlsMode.Intercept } tls ? _interceptor ??= new TlsInterceptor(tls, Time) : null;

    private TlsInterceptor? _interceptor;
}
