using SmtpLens.Net;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe;

/// <summary>Whether the probe starts TLS after EHLO.</summary>
internal enum StartTlsMode
{
    /// <summary>When the EHLO reply offers STARTTLS.</summary>
    IfOffered,

    /// <summary>Even when STARTTLS is missing or masked (<c>--force-starttls</c>).</summary>
    Always,

    /// <summary>Never; the probe instead checks whether the server demands TLS (<c>--no-starttls</c>).</summary>
    Never,
}

/// <summary>One restricted TLS offer, tried on a connection of its own (<c>--tls-version</c>, <c>--cipher</c>).</summary>
internal sealed record TlsOffer(string Label, TlsPolicy Policy);

/// <summary>What <c>smtplens probe</c> does against one host.</summary>
internal sealed record ProbeOptions
{
    public string EhloName { get; init; } = "smtplens-probe.invalid";

    /// <summary>SNI and the name checked against the certificate; default: the host probed, unless it is an IP.</summary>
    public string? ServerName { get; init; }

    public StartTlsMode StartTls { get; init; } = StartTlsMode.IfOffered;

    /// <summary>TLS from the first byte (port 465, RFC 8314).</summary>
    public bool ImplicitTls { get; init; }

    /// <summary>Connect, each reply, and each TLS handshake.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The main handshake offers legacy versions and suites too, so an old server still shows its certificate.</summary>
    public TlsPolicy Policy { get; init; } = TlsPolicy.Legacy;

    public IReadOnlyList<TlsOffer> Offers { get; init; } = [];

    public TranscriptOptions Transcripts { get; init; } = new();

    public int MaxLineLength { get; init; } = 16 * 1024;

    /// <summary><c>--check-revocation</c>: the server's chain is checked against its CRLs and OCSP responders before the
    /// probe's session ends (a probe may wait; the proxy never does). Null: off.</summary>
    public Tls.Revocation.RevocationChecker? Revocation { get; init; }

    public string? ServerNameFor(HostPort target) =>
        ServerName ?? (System.Net.IPAddress.TryParse(target.Host, out _) ? null : target.Host.TrimEnd('.'));
}
