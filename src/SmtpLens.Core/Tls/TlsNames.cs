using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using Org.BouncyCastle.Tls;

namespace SmtpLens.Tls;

/// <summary>IANA names for TLS code points, taken from BouncyCastle's own constant tables.</summary>
/// <remarks>Reading BouncyCastle's constants keeps one source of truth instead of a hand-copied registry.
/// Unknown values print as hex, GREASE values (RFC 8701) as GREASE.</remarks>
internal static class TlsNames
{
    private static readonly FrozenDictionary<int, string> CipherSuites = Constants(typeof(CipherSuite));
    private static readonly FrozenDictionary<int, string> Extensions = Constants(typeof(ExtensionType));
    private static readonly FrozenDictionary<int, string> Groups = Constants(typeof(NamedGroup));
    private static readonly FrozenDictionary<int, string> Alerts = Constants(typeof(AlertDescription));
    private static readonly FrozenDictionary<int, string> Hashes = Constants(typeof(HashAlgorithm));
    private static readonly FrozenDictionary<int, string> Signatures = Constants(typeof(SignatureAlgorithm));

    private static readonly FrozenDictionary<int, string> ExtraExtensions = new Dictionary<int, string>
    {
        [27] = "compress_certificate",
        [41] = "pre_shared_key",
        [42] = "early_data",
        [43] = "supported_versions",
        [44] = "cookie",
        [45] = "psk_key_exchange_modes",
        [47] = "certificate_authorities",
        [49] = "post_handshake_auth",
        [50] = "signature_algorithms_cert",
        [51] = "key_share",
        [17513] = "application_settings",
        [65037] = "encrypted_client_hello",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<int, string> ExtraGroups = new Dictionary<int, string>
    {
        [29] = "x25519",
        [30] = "x448",
        [256] = "ffdhe2048",
        [257] = "ffdhe3072",
        [258] = "ffdhe4096",
        [259] = "ffdhe6144",
        [260] = "ffdhe8192",
        [4588] = "X25519MLKEM768",
        [25497] = "X25519Kyber768Draft00",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<int, string> Tls13Suites = new Dictionary<int, string>
    {
        [0x1301] = "TLS_AES_128_GCM_SHA256",
        [0x1302] = "TLS_AES_256_GCM_SHA384",
        [0x1303] = "TLS_CHACHA20_POLY1305_SHA256",
        [0x1304] = "TLS_AES_128_CCM_SHA256",
        [0x1305] = "TLS_AES_128_CCM_8_SHA256",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<int, string> SignatureSchemes = new Dictionary<int, string>
    {
        [0x0804] = "rsa_pss_rsae_sha256",
        [0x0805] = "rsa_pss_rsae_sha384",
        [0x0806] = "rsa_pss_rsae_sha512",
        [0x0807] = "ed25519",
        [0x0808] = "ed448",
        [0x0809] = "rsa_pss_pss_sha256",
        [0x080a] = "rsa_pss_pss_sha384",
        [0x080b] = "rsa_pss_pss_sha512",
    }.ToFrozenDictionary();

    public static bool IsGrease(int value) => (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);

    public static string CipherSuite(int value) =>
        IsGrease(value) ? "GREASE" : Tls13Suites.GetValueOrDefault(value) ?? CipherSuites.GetValueOrDefault(value) ?? Hex(value);

    public static string Extension(int value) =>
        IsGrease(value) ? "GREASE" : ExtraExtensions.GetValueOrDefault(value) ?? Extensions.GetValueOrDefault(value) ?? Hex(value);

    public static string Group(int value) =>
        IsGrease(value) ? "GREASE" : ExtraGroups.GetValueOrDefault(value) ?? Groups.GetValueOrDefault(value) ?? Hex(value);

    public static string Alert(int value) => Alerts.GetValueOrDefault(value) ?? value.ToString(CultureInfo.InvariantCulture);

    /// <summary>TLS 1.2 SignatureAndHashAlgorithm pairs and TLS 1.3 SignatureScheme values.</summary>
    public static string SignatureScheme(int value)
    {
        if (IsGrease(value))
        {
            return "GREASE";
        }

        if (SignatureSchemes.TryGetValue(value, out var name))
        {
            return name;
        }

        var hash = Hashes.GetValueOrDefault(value >> 8);
        var sig = Signatures.GetValueOrDefault(value & 0xff);
        return hash is not null && sig is not null ? $"{sig}_{hash}" : Hex(value);
    }

    public static string Version(int value) => value switch
    {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ when IsGrease(value) => "GREASE",
        _ => Hex(value),
    };

    public static string Hex(int value) => "0x" + value.ToString("X4", CultureInfo.InvariantCulture);

    private static FrozenDictionary<int, string> Constants(Type type)
    {
        var map = new Dictionary<int, string>();
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        {
            var raw = field.GetRawConstantValue();
            var value = raw switch
            {
                int i => i,
                short s => s,
                byte b => b,
                _ => -1,
            };

            // First name wins: BouncyCastle lists the IANA name before its own aliases.
            if (value >= 0 && !field.Name.StartsWith("DRAFT_", StringComparison.Ordinal))
            {
                map.TryAdd(value, field.Name);
            }
        }

        // BouncyCastle 1.8 still files some IANA-registered values (ChaCha20 suites) under DRAFT_ names.
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.Name.StartsWith("DRAFT_", StringComparison.Ordinal)))
        {
            if (field.GetRawConstantValue() is int value)
            {
                map.TryAdd(value, field.Name["DRAFT_".Length..]);
            }
        }

        return map.ToFrozenDictionary();
    }
}
