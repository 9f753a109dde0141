using SmtpLens.Tls;

namespace SmtpLens.Policy;

/// <summary>What one connection to the upstream showed, as a sending policy sees it: STARTTLS offered or not,
/// the handshake and the chain presented, the names the server announced.</summary>
internal sealed record UpstreamObservation
{
    /// <summary>The MX host name the sender connected to (Postfix's "hostname"; the TLSA base domain).</summary>
    public required string MxHost { get; init; }

    /// <summary>The next-hop domain (the recipient domain Postfix looked up MX for; the MTA-STS policy domain).</summary>
    public required string NextHop { get; init; }

    /// <summary>The address connected to, for the sender's own wording ("host mx.example.com[192.0.2.1]").</summary>
    public string? Address { get; init; }

    /// <summary>The listener is implicit TLS (RFC 8314): no STARTTLS, the handshake starts with the connection.</summary>
    public bool ImplicitTls { get; init; }

    /// <summary>The upstream's EHLO reply advertised STARTTLS.</summary>
    public bool StartTlsOffered { get; init; }

    /// <summary>A TLS handshake with the upstream was attempted (the sender sent STARTTLS, or implicit TLS).</summary>
    public bool TlsAttempted { get; init; }

    public bool HandshakeCompleted { get; init; }

    public string? HandshakeFailure { get; init; }

    public string? Version { get; init; }

    public string? CipherSuite { get; init; }

    /// <summary>The upstream's chain as DER, leaf first.</summary>
    public IReadOnlyList<byte[]> Chain { get; init; } = [];

    /// <summary>The SNI sent upstream.</summary>
    public string? Sni { get; init; }

    /// <summary>The names the upstream gave itself (banner, EHLO reply), with where each came from.</summary>
    public IReadOnlyList<(string Name, string Role)> AnnouncedNames { get; init; } = [];

    /// <summary>Hook for --check-revocation: whether the CRL (or OCSP) of the upstream's chain was reachable, and what
    /// it said. Null: revocation was not checked, and exo-inbound says so rather than guessing.</summary>
    public RevocationObservation? Revocation { get; init; }

    public string HostText => Address is null ? MxHost : $"{MxHost}[{Address}]";

    /// <summary>Builds the observation from a recorded upstream leg (null: no TLS was attempted).</summary>
    public static UpstreamObservation From(TlsLegRecord? leg, string mxHost, string nextHop, string? address, bool implicitTls, bool startTlsOffered, IReadOnlyList<(string, string)> announced) => new()
    {
        MxHost = mxHost,
        NextHop = nextHop,
        Address = address,
        ImplicitTls = implicitTls,
        StartTlsOffered = startTlsOffered,
        TlsAttempted = leg is not null && (leg.ClientHello is not null || leg.Completed || leg.Failure is not null),
        HandshakeCompleted = leg?.Completed == true,
        HandshakeFailure = leg?.Failure,
        Version = leg?.Version is { } v ? TlsNames.Version(v) : null,
        CipherSuite = leg?.CipherSuite is { } s ? TlsNames.CipherSuite(s) : null,
        Chain = leg?.ServerCertificatesDer ?? [],
        Sni = leg?.ClientHello?.ServerName,
        AnnouncedNames = announced,
    };
}

/// <summary>The outcome of a revocation check on the upstream's chain (filled by --check-revocation when it ran).</summary>
internal sealed record RevocationObservation(bool CrlReachable, bool Revoked, string Detail)
{
    /// <summary>The server chain's results (upstream or passthrough leg; the client's own certificates do not count).</summary>
    /// <param name="settled">Every check started has answered; false: the wait for the answers ran out first.</param>
    /// <param name="waited">How long the verdicts waited for the answers.</param>
    public static RevocationObservation FromChecks(IReadOnlyList<Tls.Revocation.CertificateRevocation> checks, bool settled, TimeSpan waited)
    {
        var server = checks.Where(c => c.Leg != "client").OrderBy(c => c.Position).ToList();
        if (server.FirstOrDefault(c => c.Status == Tls.Revocation.RevocationStatus.Revoked) is { } revoked)
        {
            return new(true, true, revoked.Describe());
        }

        // Exchange reads the CRL; a certificate whose CRL could not be read is not trusted, whatever OCSP said.
        var unreachable = server.SelectMany(c => c.Sources.Where(s => s.Kind == Tls.Revocation.RevocationSourceKind.Crl && s.Reachable != true).Select(s => $"{c.Name}: {s.Describe()}")).ToList();
        if (unreachable.Count > 0)
        {
            return new(false, false, string.Join("; ", unreachable));
        }

        if (!settled)
        {
            var seconds = waited.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
            return new(false, false, $"no answer from the CRL distribution points within {seconds} s");
        }

        var read = server.SelectMany(c => c.Sources.Where(s => s.Kind == Tls.Revocation.RevocationSourceKind.Crl).Select(s => $"{s.Url} ({Tls.Revocation.RevocationSourceResult.StatusName(s.Status)})")).ToList();
        return read.Count == 0
            ? new(true, false, "no CRL distribution point named in the upstream's chain: nothing to fetch")
            : new(true, false, "read " + string.Join(", ", read));
    }
}
