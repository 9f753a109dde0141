using SmtpLens.Tls;
using CipherSuite = Org.BouncyCastle.Tls.CipherSuite;

namespace SmtpLens.Tests.Tls;

/// <summary>ECDSA P-256 forged leaves only for clients whose ClientHello accepts one at the version the leg will speak.</summary>
public sealed class ForgedLeafKeyTests
{
    private const int X25519 = 29;
    private const int Secp256r1 = 23;
    private const int EcdsaP256Sha256 = 0x0403;
    private const int EcdsaP384Sha384 = 0x0503;
    private const int RsaPssSha256 = 0x0804;
    private const int RsaPkcs1Sha256 = 0x0401;

    private static readonly TlsPolicy Tls12And13 = TlsPolicy.Parse(false, ["tls1.2", "tls1.3"], null);

    private static ClientHello Hello(int[] suites, int[] groups, int[] signatures, bool tls13 = false) => new()
    {
        RecordVersion = 0x0301,
        LegacyVersion = 0x0303,
        SupportedVersions = tls13 ? [0x0304, 0x0303] : [],
        CipherSuites = suites,
        Extensions = [],
        SupportedGroups = groups,
        SignatureAlgorithms = signatures,
    };

    private static readonly int[] EcdsaAndRsaSuites = [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256];
    private static readonly int[] RsaSuites = [CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256];

    private const int EcdsaUpstream = CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    private const int RsaUpstream = CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384;

    [Fact]
    public void Tls12_EcdsaUpstreamAndClientWithEcdsaSuiteP256AndSignature_Accepts()
    {
        var hello = Hello(EcdsaAndRsaSuites, [X25519, Secp256r1], [RsaPkcs1Sha256, EcdsaP256Sha256]);

        Assert.True(ForgedLeafKey.AcceptsEcdsa(hello, TlsPolicy.Default, 0x0303, EcdsaUpstream));
    }

    [Fact]
    public void Tls12_RsaUpstream_KeepsRsaSoTheSenderSeesTheRealServersSuite()
    {
        var hello = Hello(EcdsaAndRsaSuites, [X25519, Secp256r1], [RsaPkcs1Sha256, EcdsaP256Sha256]);

        Assert.False(ForgedLeafKey.AcceptsEcdsa(hello, TlsPolicy.Default, 0x0303, RsaUpstream));
        Assert.False(ForgedLeafKey.AcceptsEcdsa(hello, TlsPolicy.Default, 0x0303, null));
    }

    [Theory]
    [InlineData("no ECDSA suite")]
    [InlineData("no P-256")]
    [InlineData("no ECDSA signature")]
    public void Tls12_MissingAnyPart_GetsRsa(string missing)
    {
        var hello = missing switch
        {
            "no ECDSA suite" => Hello(RsaSuites, [Secp256r1], [EcdsaP256Sha256]),
            "no P-256" => Hello(EcdsaAndRsaSuites, [X25519], [EcdsaP256Sha256]),
            _ => Hello(EcdsaAndRsaSuites, [Secp256r1], [RsaPkcs1Sha256, RsaPssSha256]),
        };

        Assert.False(ForgedLeafKey.AcceptsEcdsa(hello, TlsPolicy.Default, 0x0303, EcdsaUpstream));
    }

    [Fact]
    public void Tls12_EcdsaSuiteOutsideTheClientPolicy_GetsRsa()
    {
        var rsaOnly = TlsPolicy.Default with { CipherSuites = [CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256] };
        var hello = Hello(EcdsaAndRsaSuites, [Secp256r1], [EcdsaP256Sha256]);

        Assert.False(ForgedLeafKey.AcceptsEcdsa(hello, rsaOnly, 0x0303, EcdsaUpstream));
    }

    [Fact]
    public void Tls13_NeedsTheP256SignatureScheme()
    {
        var p256 = Hello([CipherSuite.TLS_AES_128_GCM_SHA256], [X25519], [RsaPssSha256, EcdsaP256Sha256], tls13: true);
        var p384Only = Hello([CipherSuite.TLS_AES_128_GCM_SHA256], [X25519, Secp256r1], [RsaPssSha256, EcdsaP384Sha384], tls13: true);

        Assert.True(ForgedLeafKey.AcceptsEcdsa(p256, Tls12And13, 0x0304, CipherSuite.TLS_AES_128_GCM_SHA256));
        Assert.False(ForgedLeafKey.AcceptsEcdsa(p384Only, Tls12And13, 0x0304, CipherSuite.TLS_AES_128_GCM_SHA256));
    }

    [Fact]
    public void VersionNotYetKnown_MustWorkAtEveryVersionTheClientCouldGet()
    {
        // ECDSA fine at 1.3, but at 1.2 the client offers no ECDSA suite: a 1.2 answer would have no usable suite.
        var hello = Hello([CipherSuite.TLS_AES_128_GCM_SHA256, .. RsaSuites], [X25519, Secp256r1], [EcdsaP256Sha256, RsaPssSha256], tls13: true);

        Assert.True(ForgedLeafKey.AcceptsEcdsa(hello, Tls12And13, 0x0304, CipherSuite.TLS_AES_128_GCM_SHA256));
        Assert.False(ForgedLeafKey.AcceptsEcdsa(hello, Tls12And13, null, EcdsaUpstream));
        Assert.False(ForgedLeafKey.AcceptsEcdsa(hello, Tls12And13, 0x0303, EcdsaUpstream));
    }

    [Fact]
    public void UpstreamVersionOutsideTheClientPolicy_JudgedAtTheVersionsTheClientLegAllows()
    {
        // The upstream spoke 1.3, the client leg allows 1.2 only: the 1.2 rules decide.
        var hello = Hello([CipherSuite.TLS_AES_128_GCM_SHA256, .. RsaSuites], [Secp256r1], [EcdsaP256Sha256], tls13: true);

        Assert.False(ForgedLeafKey.AcceptsEcdsa(hello, TlsPolicy.Default with { MaximumVersion = 0x0303 }, 0x0304, EcdsaUpstream));
    }
}
