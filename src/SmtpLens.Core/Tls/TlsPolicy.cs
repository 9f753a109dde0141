using Org.BouncyCastle.Tls;

namespace SmtpLens.Tls;

/// <summary>Which TLS versions and suites one leg offers or accepts.</summary>
internal sealed record TlsPolicy
{
    /// <summary>AEAD suites with forward secrecy, preferred by default.</summary>
    public static readonly IReadOnlyList<int> Tls13Suites =
    [
        CipherSuite.TLS_AES_128_GCM_SHA256,
        CipherSuite.TLS_AES_256_GCM_SHA384,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    ];

    public static readonly IReadOnlyList<int> ModernSuites =
    [
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,
    ];

    /// <summary>CBC-SHA, static RSA, 3DES and RC4: only with --tls-legacy, to reproduce old appliances.</summary>
    public static readonly IReadOnlyList<int> LegacySuites =
    [
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA256,
        CipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA,
        CipherSuite.TLS_RSA_WITH_AES_256_CBC_SHA,
        CipherSuite.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
        CipherSuite.TLS_ECDHE_RSA_WITH_RC4_128_SHA,
        CipherSuite.TLS_RSA_WITH_RC4_128_SHA,
        CipherSuite.TLS_RSA_WITH_RC4_128_MD5,
    ];

    /// <summary>TLS 1.2 and 1.3: a leg offers what its peer offered, so a 1.3 client gets 1.3 where the upstream speaks it.</summary>
    public static readonly TlsPolicy Default = new();

    public static readonly TlsPolicy Legacy = new() { CipherSuites = [.. Tls13Suites, .. ModernSuites, .. LegacySuites], MinimumVersion = 0x0301 };

    /// <summary>Offered or accepted suites, in preference order.</summary>
    public IReadOnlyList<int> CipherSuites { get; init; } = [.. Tls13Suites, .. ModernSuites];

    /// <summary>0x0301 (TLS 1.0) to 0x0304 (TLS 1.3).</summary>
    public int MinimumVersion { get; init; } = 0x0303;

    public int MaximumVersion { get; init; } = 0x0304;

    public static ProtocolVersion ToBouncy(int version) => version switch
    {
        0x0300 => ProtocolVersion.SSLv3,
        0x0301 => ProtocolVersion.TLSv10,
        0x0302 => ProtocolVersion.TLSv11,
        0x0304 => ProtocolVersion.TLSv13,
        _ => ProtocolVersion.TLSv12,
    };

    /// <summary>The allowed versions, highest first, as BouncyCastle's peers list them.</summary>
    public ProtocolVersion[] BouncyVersions() => ToBouncy(MaximumVersion).DownTo(ToBouncy(MinimumVersion));

    /// <summary>TLS 1.3 suites (RFC 8446 B.4) name only the AEAD and hash; they work with any certificate key.</summary>
    public static bool IsTls13Suite(int suite) => suite >> 8 == 0x13;

    /// <summary>DH_anon and ECDH_anon suites: no certificate, so nothing to forge; used only to mirror an upstream's choice.</summary>
    public static bool IsAnonymous(int suite) => KeyExchangeAlgorithm.IsAnonymous(TlsUtilities.GetKeyExchangeAlgorithm(suite));

    /// <summary>A policy from user words: versions like "tls1.0", suites by IANA name.</summary>
    public static TlsPolicy Parse(bool legacy, IEnumerable<string>? versions, IEnumerable<string>? suites)
    {
        var policy = legacy ? Legacy : Default;
        var versionList = versions?.Select(ParseVersion).ToList();
        if (versionList is { Count: > 0 })
        {
            policy = policy with { MinimumVersion = versionList.Min(), MaximumVersion = versionList.Max() };
        }

        var suiteList = suites?.Select(ParseSuite).ToList();
        if (suiteList is { Count: > 0 })
        {
            policy = policy with { CipherSuites = suiteList };
        }

        // Suites that do not exist at the highest version would make every handshake fail: refuse the ones the user
        // named, and leave out defaults that cannot apply (a TLS 1.0 hello offering GCM is refused by careful peers).
        var usable = policy.CipherSuites.Where(s => WorksAt(s, policy.MaximumVersion)).ToList();
        var named = suiteList?.Where(s => !WorksAt(s, policy.MaximumVersion)).ToList();
        if (named is { Count: > 0 })
        {
            throw new FormatException($"cipher suite {string.Join(", ", named.Select(TlsNames.CipherSuite))} needs TLS 1.2, above the highest version allowed ({TlsNames.Version(policy.MaximumVersion)})");
        }

        if (usable.Count == 0)
        {
            throw new FormatException($"no allowed cipher suite works with {TlsNames.Version(policy.MaximumVersion)}: the modern suites need TLS 1.2; allow the legacy suites for older versions");
        }

        return policy with { CipherSuites = usable };
    }

    /// <summary>This policy with nothing above <paramref name="maximumVersion"/> (--tls-max-version): the suites that
    /// exist only above it are dropped.</summary>
    public TlsPolicy CappedAt(int maximumVersion)
    {
        var maximum = Math.Min(maximumVersion, MaximumVersion);
        if (maximum < MinimumVersion)
        {
            throw new FormatException($"the highest TLS version allowed ({TlsNames.Version(maximumVersion)}) is below the lowest this policy accepts ({TlsNames.Version(MinimumVersion)})");
        }

        return this with { MaximumVersion = maximum, CipherSuites = [.. CipherSuites.Where(s => WorksAt(s, maximum))] };
    }

    /// <summary>Whether a suite can be negotiated when at most <paramref name="maximumVersion"/> is spoken.</summary>
    public static bool WorksAt(int suite, int maximumVersion) =>
        IsTls13Suite(suite) ? maximumVersion >= 0x0304 : TlsUtilities.IsValidVersionForCipherSuite(suite, ToBouncy(Math.Min(maximumVersion, 0x0303)));

    public static int ParseVersion(string text) => text.Trim().ToLowerInvariant().Replace("v", string.Empty, StringComparison.Ordinal) switch
    {
        "tls1.0" or "tls1" or "1.0" or "tls10" => 0x0301,
        "tls1.1" or "1.1" or "tls11" => 0x0302,
        "tls1.2" or "1.2" or "tls12" => 0x0303,
        "tls1.3" or "1.3" or "tls13" => 0x0304,
        _ => throw new FormatException($"TLS version \"{text}\" is not one of tls1.0, tls1.1, tls1.2, tls1.3"),
    };

    public static int ParseSuite(string name)
    {
        // BouncyCastle 1.8 filed the ChaCha20 suites under DRAFT_ names; configurations may still use them.
        var upper = name.Trim().ToUpperInvariant();
        var field = typeof(CipherSuite).GetField(upper.StartsWith("DRAFT_", StringComparison.Ordinal) ? upper["DRAFT_".Length..] : upper);
        return field?.GetRawConstantValue() is int value
            ? value
            : throw new FormatException($"cipher suite \"{name}\" is not an IANA TLS suite name BouncyCastle knows (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
    }
}
