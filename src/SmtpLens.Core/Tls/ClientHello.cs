using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SmtpLens.Tls;

/// <summary>What a client offered in its ClientHello: the first half of every TLS diagnosis.</summary>
internal sealed record ClientHello
{
    public required int RecordVersion { get; init; }

    public required int LegacyVersion { get; init; }

    /// <summary>The supported_versions extension (TLS 1.3 clients), empty when absent.</summary>
    public required IReadOnlyList<int> SupportedVersions { get; init; }

    public required IReadOnlyList<int> CipherSuites { get; init; }

    public required IReadOnlyList<int> Extensions { get; init; }

    public string? ServerName { get; init; }

    public IReadOnlyList<int> SupportedGroups { get; init; } = [];

    public IReadOnlyList<int> EcPointFormats { get; init; } = [];

    public IReadOnlyList<int> SignatureAlgorithms { get; init; } = [];

    public IReadOnlyList<string> Alpn { get; init; } = [];

    public int SessionIdLength { get; init; }

    /// <summary>The groups the client sent key shares for (TLS 1.3 key_share), in its order.</summary>
    public IReadOnlyList<int> KeyShareGroups { get; init; } = [];

    /// <summary>A pre_shared_key extension: the client tried to resume (TLS 1.3 PSK).</summary>
    public bool AttemptsPskResumption => Extensions.Contains(41);

    public bool OffersEarlyData => Extensions.Contains(42);

    public byte[] Random { get; init; } = [];

    /// <summary>The highest version offered, GREASE ignored.</summary>
    public int MaxVersion => SupportedVersions.Where(v => !TlsNames.IsGrease(v)).DefaultIfEmpty(LegacyVersion).Max();

    public bool OffersExtendedMasterSecret => Extensions.Contains(23);

    /// <summary>renegotiation_info or the TLS_EMPTY_RENEGOTIATION_INFO_SCSV signalling suite (RFC 5746).</summary>
    public bool OffersSecureRenegotiation => Extensions.Contains(0xff01) || CipherSuites.Contains(0x00ff);

    /// <summary>JA3: version, ciphers, extensions, groups, point formats; GREASE removed (Salesforce's definition).</summary>
    public string Ja3String => string.Join(
        ',',
        LegacyVersion.ToString(CultureInfo.InvariantCulture),
        Join(CipherSuites),
        Join(Extensions),
        Join(SupportedGroups),
        Join(EcPointFormats));

    // JA3 is defined over MD5; this is a fingerprint, not a security function.
#pragma warning disable CA5351
    public string Ja3Hash => Convert.ToHexStringLower(MD5.HashData(Encoding.ASCII.GetBytes(Ja3String)));
#pragma warning restore CA5351

    public static ClientHello Parse(HandshakeMessage message)
    {
        if (message.Type != 1)
        {
            throw new FormatException($"expected ClientHello (1), got handshake type {message.Type}");
        }

        var r = new WireReader(message.Body);
        var legacyVersion = r.U16();
        var random = r.Take(32).ToArray();
        var sessionId = r.Vector8();
        var suites = WireReader.U16List(r.Vector16());
        r.Vector8();
        var extensions = new List<int>();
        string? sni = null;
        List<int> groups = [], formats = [], sigalgs = [], versions = [], keyShares = [];
        var alpn = new List<string>();
        if (r.Remaining > 0)
        {
            var ext = new WireReader(r.Vector16());
            while (ext.Remaining > 0)
            {
                var type = ext.U16();
                var data = ext.Vector16();
                extensions.Add(type);
                switch (type)
                {
                    case 0:
                        sni = ParseServerName(data);
                        break;
                    case 10:
                        groups = WireReader.U16List(new WireReader(data).Vector16());
                        break;
                    case 11:
                        formats = [.. new WireReader(data).Vector8().ToArray().Select(b => (int)b)];
                        break;
                    case 13:
                        sigalgs = WireReader.U16List(new WireReader(data).Vector16());
                        break;
                    case 16:
                        var list = new WireReader(new WireReader(data).Vector16());
                        while (list.Remaining > 0)
                        {
                            alpn.Add(Encoding.ASCII.GetString(list.Vector8()));
                        }

                        break;
                    case 43:
                        versions = WireReader.U16List(new WireReader(data).Vector8());
                        break;
                    case 51:
                        var shares = new WireReader(new WireReader(data).Vector16());
                        while (shares.Remaining > 0)
                        {
                            keyShares.Add(shares.U16());
                            shares.Vector16();
                        }

                        break;
                }
            }
        }

        return new ClientHello
        {
            RecordVersion = message.RecordVersion,
            LegacyVersion = legacyVersion,
            Random = random,
            SessionIdLength = sessionId.Length,
            CipherSuites = suites,
            Extensions = extensions,
            ServerName = sni,
            SupportedGroups = groups,
            EcPointFormats = formats,
            SignatureAlgorithms = sigalgs,
            Alpn = alpn,
            SupportedVersions = versions,
            KeyShareGroups = keyShares,
        };
    }

    private static string? ParseServerName(ReadOnlySpan<byte> data)
    {
        var list = new WireReader(new WireReader(data).Vector16());
        while (list.Remaining > 0)
        {
            var nameType = list.U8();
            var name = list.Vector16();
            if (nameType == 0)
            {
                return Encoding.ASCII.GetString(name);
            }
        }

        return null;
    }

    private static string Join(IEnumerable<int> values) =>
        string.Join('-', values.Where(v => !TlsNames.IsGrease(v)).Select(v => v.ToString(CultureInfo.InvariantCulture)));

    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["recordVersion"] = TlsNames.Version(RecordVersion),
        ["clientVersion"] = TlsNames.Version(LegacyVersion),
        ["supportedVersions"] = SupportedVersions.Select(TlsNames.Version).ToList(),
        ["maxVersion"] = TlsNames.Version(MaxVersion),
        ["cipherSuites"] = CipherSuites.Select(TlsNames.CipherSuite).ToList(),
        ["sni"] = ServerName,
        ["supportedGroups"] = SupportedGroups.Select(TlsNames.Group).ToList(),
        ["signatureAlgorithms"] = SignatureAlgorithms.Select(TlsNames.SignatureScheme).ToList(),
        ["alpn"] = Alpn,
        ["keyShareGroups"] = KeyShareGroups.Select(TlsNames.Group).ToList(),
        ["pskAttempted"] = AttemptsPskResumption,
        ["extensions"] = Extensions.Select(TlsNames.Extension).ToList(),
        ["extendedMasterSecret"] = OffersExtendedMasterSecret,
        ["secureRenegotiation"] = OffersSecureRenegotiation,
        ["ja3"] = Ja3String,
        ["ja3Hash"] = Ja3Hash,
    };
}
