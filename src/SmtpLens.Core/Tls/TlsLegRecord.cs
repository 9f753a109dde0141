using System.Globalization;

namespace SmtpLens.Tls;

/// <summary>An alert on one leg: which side raised it and whether the handshake had finished.</summary>
internal sealed record TlsAlertEvent(TlsAlert Alert, TlsSide RaisedBy, bool DuringHandshake, DateTimeOffset At, string? Message);

/// <summary>Everything recorded about one TLS leg (client to SmtpLens, or SmtpLens to upstream).</summary>
internal sealed class TlsLegRecord(string leg, string smtpLensRole)
{
    private readonly Lock _gate = new();

    /// <summary>"client" or "upstream".</summary>
    public string Leg { get; } = leg;

    /// <summary>SmtpLens's role on this leg: "server" toward the client, "client" toward the upstream.</summary>
    public string SmtpLensRole { get; } = smtpLensRole;

    public ClientHello? ClientHello { get; set; }

    public ServerHello? ServerHello { get; set; }

    public List<CertificateSummary> ServerCertificates { get; } = [];

    /// <summary>The peer's chain as DER, leaf first, for mirroring.</summary>
    public IReadOnlyList<byte[]> ServerCertificatesDer { get; set; } = [];

    public List<CertificateSummary> ClientCertificates { get; } = [];

    public bool ClientCertificateRequested { get; set; }

    public List<TlsAlertEvent> Alerts { get; } = [];

    public int? Version { get; set; }

    public int? CipherSuite { get; set; }

    public bool? ExtendedMasterSecret { get; set; }

    public bool? SecureRenegotiation { get; set; }

    public TimeSpan? Duration { get; set; }

    public bool Completed { get; set; }

    /// <summary>The (EC)DHE group of the key exchange: TLS 1.3's key-share group, or TLS 1.2's ECDHE curve.</summary>
    public int? Group { get; set; }

    /// <summary>The server answered the first ClientHello with a HelloRetryRequest (TLS 1.3).</summary>
    public bool HelloRetryRequest { get; set; }

    /// <summary>The client's ClientHello carried pre_shared_key: it tried to resume (TLS 1.3).</summary>
    public bool PskAttempted { get; set; }

    /// <summary>The handshake resumed an earlier session (TLS 1.2 session ID): no certificate or key exchange was sent.</summary>
    public bool Resumed { get; set; }

    /// <summary>Upstream leg: what the sender offered that SmtpLens could not offer the upstream, with the reason.</summary>
    public IReadOnlyList<string> NotOfferedUpstream { get; set; } = [];

    public string? Failure { get; set; }

    /// <summary>Whether the peer's chain builds to the system trust store; recorded, enforced only on request.</summary>
    public bool? ChainTrusted { get; set; }

    public string? ChainStatus { get; set; }

    /// <summary>The host name checked against the certificate, and the outcome.</summary>
    public string? NameChecked { get; set; }

    public bool? NameMatches { get; set; }

    public string? KeyExchange => CipherSuite is { } s ? KeyExchangeOf(TlsNames.CipherSuite(s)) : null;

    public void AddAlert(TlsAlertEvent alert)
    {
        lock (_gate)
        {
            Alerts.Add(alert);
        }
    }

    public static string KeyExchangeOf(string suiteName)
    {
        var start = suiteName.StartsWith("TLS_", StringComparison.Ordinal) ? 4 : 0;
        var with = suiteName.IndexOf("_WITH_", StringComparison.Ordinal);
        return with > start ? suiteName[start..with] : "(TLS 1.3 style)";
    }

    public string Summary()
    {
        if (!Completed)
        {
            return $"{Leg} leg: TLS handshake FAILED: {Failure}";
        }

        var suite = CipherSuite is { } s ? TlsNames.CipherSuite(s) : "?";
        var group = Group is { } g ? TlsNames.Group(g) : null;
        var tls13 = Version == 0x0304
            ? $", key share {group ?? "?"}{(HelloRetryRequest ? ", after a HelloRetryRequest" : string.Empty)}"
            : $"{(group is null ? string.Empty : $", ECDHE group {group}")}, EMS {(ExtendedMasterSecret == true ? "yes" : "no")}, secure renegotiation {(SecureRenegotiation == true ? "yes" : "no")}";
        tls13 += Resumed ? ", resumed (abbreviated handshake)" : string.Empty;
        tls13 += PskAttempted ? ", PSK resumption attempted (replaced by a full handshake)" : string.Empty;
        var notOffered = NotOfferedUpstream.Count > 0 ? $"; not offered upstream: {string.Join(", ", NotOfferedUpstream)}" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{Leg} leg: {TlsNames.Version(Version ?? 0)} {suite}{tls13}, {Duration?.TotalMilliseconds:0} ms{notOffered}");
    }

    public IReadOnlyDictionary<string, object?> ToData()
    {
        lock (_gate)
        {
            return new Dictionary<string, object?>
            {
                ["leg"] = Leg,
                ["smtplensRole"] = SmtpLensRole,
                ["completed"] = Completed,
                ["failure"] = Failure,
                ["version"] = Version is { } v ? TlsNames.Version(v) : null,
                ["cipherSuite"] = CipherSuite is { } s ? TlsNames.CipherSuite(s) : null,
                ["keyExchange"] = KeyExchange,
                ["extendedMasterSecret"] = ExtendedMasterSecret,
                ["secureRenegotiation"] = SecureRenegotiation,
                ["group"] = Group is { } grp ? TlsNames.Group(grp) : null,
                ["helloRetryRequest"] = HelloRetryRequest,
                ["pskAttempted"] = PskAttempted,
                ["resumed"] = Resumed,
                ["notOfferedUpstream"] = NotOfferedUpstream,
                ["durationMs"] = Duration is { } d ? Math.Round(d.TotalMilliseconds, 1) : null,
                ["clientHello"] = ClientHello?.ToData(),
                ["serverHello"] = ServerHello is { } sh ? new Dictionary<string, object?>
                {
                    ["version"] = TlsNames.Version(sh.Version),
                    ["cipherSuite"] = TlsNames.CipherSuite(sh.CipherSuite),
                    ["extensions"] = sh.Extensions.Select(TlsNames.Extension).ToList(),
                } : null,
                ["serverCertificates"] = ServerCertificates.Select(c => c.ToData()).ToList(),
                ["clientCertificateRequested"] = ClientCertificateRequested,
                ["clientCertificates"] = ClientCertificates.Select(c => c.ToData()).ToList(),
                ["chainTrusted"] = ChainTrusted,
                ["chainStatus"] = ChainStatus,
                ["nameChecked"] = NameChecked,
                ["nameMatches"] = NameMatches,
                ["alerts"] = Alerts.Select(a => new Dictionary<string, object?>
                {
                    ["level"] = a.Alert.LevelName,
                    ["description"] = TlsNames.Alert(a.Alert.Description),
                    ["raisedBy"] = a.RaisedBy == TlsSide.SmtpLens ? "smtplens" : "peer",
                    ["duringHandshake"] = a.DuringHandshake,
                    ["at"] = a.At.ToString("o", CultureInfo.InvariantCulture),
                    ["message"] = a.Message,
                }).ToList(),
            };
        }
    }
}
