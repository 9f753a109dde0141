using Org.BouncyCastle.Tls;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class TlsPolicyTests
{
    [Fact]
    public void Parse_NothingGiven_IsTls12And13_With13SuitesFirst()
    {
        var policy = TlsPolicy.Parse(false, null, null);

        Assert.Equal(0x0303, policy.MinimumVersion);
        Assert.Equal(0x0304, policy.MaximumVersion);
        Assert.Equal([.. TlsPolicy.Tls13Suites, .. TlsPolicy.ModernSuites], policy.CipherSuites);
    }

    [Fact]
    public void Parse_Legacy_AddsOldSuitesAndTls10()
    {
        var policy = TlsPolicy.Parse(true, [], []);

        Assert.Equal(0x0301, policy.MinimumVersion);
        Assert.Equal(0x0304, policy.MaximumVersion);
        Assert.Equal([.. TlsPolicy.Tls13Suites, .. TlsPolicy.ModernSuites, .. TlsPolicy.LegacySuites], policy.CipherSuites);
        Assert.Contains(CipherSuite.TLS_RSA_WITH_RC4_128_MD5, policy.CipherSuites);
    }

    [Fact]
    public void Parse_Versions_SetTheRangeFromLowestToHighest()
    {
        var policy = TlsPolicy.Parse(true, ["TLSv1.2", "tls1.0"], null);

        Assert.Equal(0x0301, policy.MinimumVersion);
        Assert.Equal(0x0303, policy.MaximumVersion);
    }

    [Fact]
    public void Parse_Suites_ReplaceTheListInTheGivenOrder()
    {
        var policy = TlsPolicy.Parse(false, null, ["TLS_RSA_WITH_AES_128_CBC_SHA", "tls_ecdhe_rsa_with_aes_256_gcm_sha384", " TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 "]);

        Assert.Equal([0x002f, 0xc030, 0xcca8], policy.CipherSuites);
        Assert.Equal(0x0303, policy.MinimumVersion);
    }

    [Fact]
    public void Parse_Tls10WithTheModernDefaults_IsRefused() =>
        Assert.Contains("no allowed cipher suite works with TLSv1.0", Assert.Throws<FormatException>(() => TlsPolicy.Parse(false, ["tls1.0"], null)).Message, StringComparison.Ordinal);

    [Fact]
    public void Parse_NamedSuiteAboveTheHighestVersion_IsRefusedByName() =>
        Assert.Contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 needs TLS 1.2", Assert.Throws<FormatException>(() => TlsPolicy.Parse(true, ["tls1.0", "tls1.1"], ["TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])).Message, StringComparison.Ordinal);

    [Fact]
    public void Parse_LegacyAtTls10_LeavesOutTheSuitesThatNeedTls12()
    {
        var policy = TlsPolicy.Parse(true, ["tls1.0"], null);

        Assert.Contains(CipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA, policy.CipherSuites);
        Assert.DoesNotContain(CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, policy.CipherSuites);
        Assert.All(policy.CipherSuites, s => Assert.True(TlsPolicy.WorksAt(s, 0x0301)));
    }

    [Theory]
    [InlineData("tls1.0", 0x0301)]
    [InlineData("TLSv1.0", 0x0301)]
    [InlineData("tls1", 0x0301)]
    [InlineData("1.0", 0x0301)]
    [InlineData("tls1.1", 0x0302)]
    [InlineData("TLS11", 0x0302)]
    [InlineData("TLSv1.2", 0x0303)]
    [InlineData(" tls1.2 ", 0x0303)]
    [InlineData("1.2", 0x0303)]
    public void ParseVersion_UserSpellings_AreAccepted(string text, int expected)
    {
        Assert.Equal(expected, TlsPolicy.ParseVersion(text));
    }

    [Theory]
    [InlineData("tls1.3")]
    [InlineData("TLSv1.3")]
    public void ParseVersion_Tls13_IsAccepted(string text)
    {
        Assert.Equal(0x0304, TlsPolicy.ParseVersion(text));
    }

    [Theory]
    [InlineData("sslv3")]
    [InlineData("tls2")]
    [InlineData("")]
    public void ParseVersion_Unknown_ListsTheAcceptedVersions(string text)
    {
        var e = Assert.Throws<FormatException>(() => TlsPolicy.ParseVersion(text));

        Assert.Contains("tls1.0, tls1.1, tls1.2, tls1.3", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xc02f)]
    [InlineData("tls_ecdhe_rsa_with_aes_128_gcm_sha256", 0xc02f)]
    [InlineData("TLS_RSA_WITH_RC4_128_SHA", 0x0005)]
    [InlineData("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca8)]
    [InlineData("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9)]
    [InlineData("DRAFT_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca8)] // BouncyCastle 1.8's name, from old configurations
    [InlineData("TLS_AES_128_GCM_SHA256", 0x1301)]
    [InlineData("TLS_CHACHA20_POLY1305_SHA256", 0x1303)]
    public void ParseSuite_IanaAndBouncyCastleNames_GiveTheCodePoint(string name, int expected)
    {
        Assert.Equal(expected, TlsPolicy.ParseSuite(name));
    }

    [Theory]
    [InlineData("ECDHE-RSA-AES128-GCM-SHA256")] // OpenSSL's spelling
    [InlineData("TLS_NOT_A_SUITE")]
    [InlineData("")]
    public void ParseSuite_UnknownName_ThrowsFormatExceptionWithAnExample(string name)
    {
        var e = Assert.Throws<FormatException>(() => TlsPolicy.ParseSuite(name));

        Assert.Contains($"\"{name}\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OneBadSuiteAmongGoodOnes_ThrowsFormatException()
    {
        Assert.Throws<FormatException>(() => TlsPolicy.Parse(false, null, ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "RC4-MD5"]));
    }

    [Theory]
    [InlineData(0x0300, 0x0300)]
    [InlineData(0x0301, 0x0301)]
    [InlineData(0x0302, 0x0302)]
    [InlineData(0x0303, 0x0303)]
    [InlineData(0x0304, 0x0304)]
    public void ToBouncy_Versions_MapToBouncyCastleVersions(int version, int expected)
    {
        Assert.Equal(expected, TlsPolicy.ToBouncy(version).FullVersion);
    }

    [Fact]
    public void Suites_ModernAndLegacy_DoNotOverlap()
    {
        Assert.Empty(TlsPolicy.ModernSuites.Intersect(TlsPolicy.LegacySuites));
        Assert.Equal(TlsPolicy.ModernSuites.Count, TlsPolicy.ModernSuites.Distinct().Count());
    }

    [Fact]
    public void Parse_Tls13Allowed_OffersTheTls13SuitesFirst()
    {
        var policy = TlsPolicy.Parse(false, ["tls1.2", "tls1.3"], null);

        Assert.Equal((0x0303, 0x0304), (policy.MinimumVersion, policy.MaximumVersion));
        Assert.Equal([.. TlsPolicy.Tls13Suites, .. TlsPolicy.ModernSuites], policy.CipherSuites);
    }

    [Fact]
    public void CappedAt12_DropsTls13AndItsSuites()
    {
        var policy = TlsPolicy.Default.CappedAt(0x0303);

        Assert.Equal((0x0303, 0x0303), (policy.MinimumVersion, policy.MaximumVersion));
        Assert.Equal(TlsPolicy.ModernSuites, policy.CipherSuites);
        Assert.Equal([ProtocolVersion.TLSv12], policy.BouncyVersions());
    }

    [Fact]
    public void CappedAt_BelowTheMinimum_IsRefused()
    {
        Assert.Contains("below the lowest", Assert.Throws<FormatException>(() => TlsPolicy.Default.CappedAt(0x0301)).Message, StringComparison.Ordinal);
        Assert.Equal(0x0301, TlsPolicy.Legacy.CappedAt(0x0301).MaximumVersion);
    }

    [Fact]
    public void EcdheRsaRc4_IsNotMappedByBouncyCastle_SoNoRc4CipherCanBringItBack()
    {
        // BouncyCastle 2.x knows the static-RSA RC4 suites (LegacyRc4Cipher supplies their cipher) but maps neither an
        // encryption algorithm nor a key exchange for TLS_ECDHE_RSA_WITH_RC4_128_SHA, so the engine never offers or
        // selects it whatever the crypto provides. If a BouncyCastle update maps it again, this fails: restore it then.
        Assert.Equal(EncryptionAlgorithm.RC4_128, TlsUtilities.GetEncryptionAlgorithm(CipherSuite.TLS_RSA_WITH_RC4_128_SHA));
        Assert.True(TlsUtilities.GetEncryptionAlgorithm(CipherSuite.TLS_ECDHE_RSA_WITH_RC4_128_SHA) < 0 || TlsUtilities.GetKeyExchangeAlgorithm(CipherSuite.TLS_ECDHE_RSA_WITH_RC4_128_SHA) < 0);
    }
}
