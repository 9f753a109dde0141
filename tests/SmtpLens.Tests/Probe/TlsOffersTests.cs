using Org.BouncyCastle.Tls;
using SmtpLens.Probe;

namespace SmtpLens.Tests.Probe;

public sealed class TlsOffersTests
{
    [Fact]
    public void A_Version_Alone_Offers_Only_That_Version_And_Its_Suites()
    {
        var offers = TlsOffers.Build(["TLS1.0", "tls1.2"], []);
        Assert.Equal(["tls1.0", "tls1.2"], offers.Select(o => o.Label));
        var tls10 = offers[0].Policy;
        Assert.Equal((0x0301, 0x0301), (tls10.MinimumVersion, tls10.MaximumVersion));
        Assert.DoesNotContain(CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls10.CipherSuites);
        Assert.Contains(CipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA, tls10.CipherSuites);
        Assert.Contains(CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, offers[1].Policy.CipherSuites);
    }

    [Fact]
    public void A_Cipher_Alone_Offers_Only_That_Suite_Over_Every_Version()
    {
        var offer = Assert.Single(TlsOffers.Build([], ["tls_rsa_with_rc4_128_sha"]));
        Assert.Equal("TLS_RSA_WITH_RC4_128_SHA", offer.Label);
        Assert.Equal([CipherSuite.TLS_RSA_WITH_RC4_128_SHA], offer.Policy.CipherSuites);
        Assert.Equal((0x0301, 0x0303), (offer.Policy.MinimumVersion, offer.Policy.MaximumVersion));
    }

    [Fact]
    public void Both_Give_Every_Pair()
    {
        var offers = TlsOffers.Build(["tls1.0", "tls1.2"], ["TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
        Assert.Equal(4, offers.Count);
        Assert.Equal("tls1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", offers[^1].Label);
    }

    [Theory]
    [InlineData("tls1.4", null)]
    [InlineData(null, "TLS_MADE_UP")]
    public void Unknown_Names_Are_Usage_Errors(string? version, string? suite) =>
        Assert.Throws<FormatException>(() => TlsOffers.Build(version is null ? [] : [version], suite is null ? [] : [suite]));
}
