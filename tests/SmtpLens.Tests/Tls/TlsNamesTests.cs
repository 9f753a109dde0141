using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class TlsNamesTests
{
    /// <summary>The sixteen GREASE values of RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA.</summary>
    public static TheoryData<int> GreaseValues => [.. Enumerable.Range(0, 16).Select(i => 0x0a0a + (i * 0x1010))];

    [Theory]
    [InlineData(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")]
    [InlineData(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")]
    [InlineData(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256")]
    [InlineData(0x0005, "TLS_RSA_WITH_RC4_128_SHA")]
    [InlineData(0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA")]
    [InlineData(0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV")]
    [InlineData(0x1301, "TLS_AES_128_GCM_SHA256")]
    [InlineData(0x1302, "TLS_AES_256_GCM_SHA384")]
    [InlineData(0x1303, "TLS_CHACHA20_POLY1305_SHA256")]
    [InlineData(0xabcd, "0xABCD")]
    [InlineData(0x0a0a, "GREASE")]
    [InlineData(0xdada, "GREASE")]
    public void CipherSuite_KnownUnknownAndGrease_AreNamed(int value, string expected)
    {
        Assert.Equal(expected, TlsNames.CipherSuite(value));
    }

    [Theory]
    [InlineData(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")]
    [InlineData(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")]
    [InlineData(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256")]
    public void CipherSuite_ChaChaSuites_HaveTheirIanaNames(int value, string expected)
    {
        // RFC 7905 assigned these in 2016; BouncyCastle 1.8 still spells them DRAFT_..., which TlsNames skips.
        Assert.Equal(expected, TlsNames.CipherSuite(value));
    }

    [Fact]
    public void CipherSuite_EverySuiteThePoliciesOffer_HasANameThatParsesBack()
    {
        // The names SmtpLens prints are the names it tells users to pass to --tls-ciphers.
        var unnamed = TlsPolicy.Legacy.CipherSuites
            .Where(s => !TlsNames.CipherSuite(s).StartsWith("TLS_", StringComparison.Ordinal) || TlsPolicy.ParseSuite(TlsNames.CipherSuite(s)) != s)
            .Select(TlsNames.Hex);

        Assert.Empty(unnamed);
    }

    [Theory]
    [MemberData(nameof(GreaseValues))]
    public void IsGrease_Rfc8701Values_AreGrease(int value)
    {
        Assert.True(TlsNames.IsGrease(value));
        Assert.Equal("GREASE", TlsNames.CipherSuite(value));
        Assert.Equal("GREASE", TlsNames.Extension(value));
        Assert.Equal("GREASE", TlsNames.Group(value));
        Assert.Equal("GREASE", TlsNames.Version(value));
        Assert.Equal("GREASE", TlsNames.SignatureScheme(value));
    }

    [Theory]
    [InlineData(0x0000)]
    [InlineData(0x0a0b)]
    [InlineData(0x0a1a)]
    [InlineData(0x1a0a)]
    [InlineData(0x0b0b)]
    [InlineData(0x0303)]
    [InlineData(0xff01)]
    public void IsGrease_NearMisses_AreNotGrease(int value)
    {
        Assert.False(TlsNames.IsGrease(value));
    }

    [Theory]
    [InlineData(0, "server_name")]
    [InlineData(10, "supported_groups")]
    [InlineData(13, "signature_algorithms")]
    [InlineData(16, "application_layer_protocol_negotiation")]
    [InlineData(23, "extended_master_secret")]
    [InlineData(43, "supported_versions")]
    [InlineData(51, "key_share")]
    [InlineData(0xff01, "renegotiation_info")]
    [InlineData(65037, "encrypted_client_hello")]
    [InlineData(0x1234, "0x1234")]
    public void Extension_Values_AreNamed(int value, string expected)
    {
        Assert.Equal(expected, TlsNames.Extension(value));
    }

    [Theory]
    [InlineData(23, "secp256r1")]
    [InlineData(24, "secp384r1")]
    [InlineData(29, "x25519")]
    [InlineData(30, "x448")]
    [InlineData(256, "ffdhe2048")]
    [InlineData(4588, "X25519MLKEM768")]
    [InlineData(0x7777, "0x7777")]
    public void Group_Values_AreNamed(int value, string expected)
    {
        Assert.Equal(expected, TlsNames.Group(value));
    }

    [Theory]
    [InlineData(0x0401, "rsa_sha256")]
    [InlineData(0x0201, "rsa_sha1")]
    [InlineData(0x0403, "ecdsa_sha256")]
    [InlineData(0x0804, "rsa_pss_rsae_sha256")]
    [InlineData(0x0807, "ed25519")]
    [InlineData(0x0909, "0x0909")]
    [InlineData(0x0463, "0x0463")]
    public void SignatureScheme_Tls12PairsAndTls13Schemes_AreNamed(int value, string expected)
    {
        Assert.Equal(expected, TlsNames.SignatureScheme(value));
    }

    [Theory]
    [InlineData(0x0002, "SSLv2")]
    [InlineData(0x0300, "SSLv3")]
    [InlineData(0x0301, "TLSv1.0")]
    [InlineData(0x0302, "TLSv1.1")]
    [InlineData(0x0303, "TLSv1.2")]
    [InlineData(0x0304, "TLSv1.3")]
    [InlineData(0x7f1c, "0x7F1C")]
    public void Version_Values_AreNamed(int value, string expected)
    {
        Assert.Equal(expected, TlsNames.Version(value));
    }

    [Theory]
    [InlineData(0, "close_notify")]
    [InlineData(40, "handshake_failure")]
    [InlineData(42, "bad_certificate")]
    [InlineData(70, "protocol_version")]
    [InlineData(112, "unrecognized_name")]
    [InlineData(250, "250")]
    public void Alert_Values_AreNamed(int value, string expected)
    {
        Assert.Equal(expected, TlsNames.Alert(value));
    }

    [Theory]
    [InlineData("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE_RSA")]
    [InlineData("TLS_RSA_WITH_RC4_128_SHA", "RSA")]
    [InlineData("TLS_AES_128_GCM_SHA256", "(TLS 1.3 style)")]
    public void KeyExchangeOf_SuiteNames_GivesTheKeyExchangePart(string suite, string expected)
    {
        Assert.Equal(expected, TlsLegRecord.KeyExchangeOf(suite));
    }
}
