using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

/// <summary>Forged leaves per key type and the caches behind them: one key per type, one leaf per upstream certificate.</summary>
public sealed class ForgedLeafCacheTests
{
    private static CertificateAuthority Ours => TlsTestCertificates.Interception;

    private static byte[][] UpstreamChain(string name) =>
        TlsTestCertificates.Der(TlsTestCertificates.Upstream.Issue(name, [name], TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(80)));

    [Fact]
    public void ForgeFor_Ecdsa_IssuesAP256LeafThatChainsToTheCaAndSignsOnly()
    {
        var upstream = UpstreamChain("ec.example.test");

        var identity = Ours.ForgeFor(upstream, "ec.example.test", ecdsa: true);

        Assert.True(identity.IsEc);
        using var leaf = X509CertificateLoader.LoadCertificate(identity.ChainDer[0]);
        using var key = leaf.GetECDsaPublicKey();
        Assert.NotNull(key);
        Assert.Equal(256, key.KeySize);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, leaf.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages);
        Assert.Equal("CN=ec.example.test", leaf.Subject);
        Assert.True(CertificateAuthorityTests.ChainsTo(leaf, Ours.Certificate, TlsTestCertificates.Now, out var status), status);
    }

    [Fact]
    public void ForgeFor_KeyType_IsPartOfTheCacheKey()
    {
        var upstream = UpstreamChain("both.example.test");

        var rsa = Ours.ForgeFor(upstream, "both.example.test");
        var ec = Ours.ForgeFor(upstream, "both.example.test", ecdsa: true);

        Assert.False(rsa.IsEc);
        Assert.True(ec.IsEc);
        Assert.Same(ec, Ours.ForgeFor([.. upstream.Select(d => (byte[])d.Clone())], "both.example.test", ecdsa: true));
        Assert.Same(rsa, Ours.ForgeFor(upstream, "both.example.test", ecdsa: false));
    }

    [Fact]
    public void ForgeFor_DifferentUpstreamCertificateWithTheSameNames_GetsItsOwnLeafButTheSameKey()
    {
        // Same subject and SNI, a different certificate (new serial): the upstream re-keyed or renewed.
        var first = UpstreamChain("renewed.example.test");
        var second = UpstreamChain("renewed.example.test");

        foreach (var ecdsa in new[] { false, true })
        {
            var a = Ours.ForgeFor(first, "renewed.example.test", ecdsa);
            var b = Ours.ForgeFor(second, "renewed.example.test", ecdsa);

            Assert.NotSame(a, b);
            Assert.NotEqual(a.ChainDer[0], b.ChainDer[0]);
            Assert.Equal(a.Pkcs8, b.Pkcs8);
        }
    }

    [Fact]
    public void ToX509WithKey_EcdsaIdentity_CarriesTheEcKey()
    {
        var identity = Ours.ForgeFor(UpstreamChain("x509.example.test"), "x509.example.test", ecdsa: true);

        using var certificate = Ours.ToX509WithKey(identity);
        using var key = certificate.GetECDsaPrivateKey();

        Assert.NotNull(key);
        var signature = key.SignData("probe"u8, HashAlgorithmName.SHA256);
        using var publicKey = certificate.GetECDsaPublicKey();
        Assert.True(publicKey!.VerifyData("probe"u8, signature, HashAlgorithmName.SHA256));
    }

    [Fact]
    public void Summaries_OfAnIdentity_AreParsedOnceAndDescribeTheChain()
    {
        var identity = Ours.ForgeFor(UpstreamChain("summary.example.test"), "summary.example.test", ecdsa: true);

        Assert.Same(identity.Summaries, identity.Summaries);
        Assert.Equal(["CN=summary.example.test", Ours.Certificate.Subject], identity.Summaries.Select(s => s.Subject));
        Assert.Equal("EC", identity.Summaries[0].KeyType);
    }
}

/// <summary>Upstream chain verdicts reused per chain fingerprint, and only while they still hold.</summary>
public sealed class UpstreamChainCacheTests
{
    private static byte[][] Chain(string name, DateTimeOffset notAfter) =>
        TlsTestCertificates.Der(TlsTestCertificates.Upstream.Issue(name, [name], TlsTestCertificates.Now.AddDays(-10), notAfter));

    private static TlsLegRecord Checked(byte[][] chain, UpstreamChainCache.Entry entry, DateTimeOffset at)
    {
        var record = new TlsLegRecord("upstream", "client") { ServerCertificatesDer = chain };
        record.ServerCertificates.AddRange(entry.Summaries);
        UpstreamValidation.Check(record, chain, "mx.example.test", at, [TlsTestCertificates.Upstream.Certificate], entry);
        return record;
    }

    [Fact]
    public void For_SameChainBytes_SameEntry_OtherChain_OtherEntry()
    {
        var cache = new UpstreamChainCache();
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(80));
        var other = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(80));

        var entry = cache.For(chain);

        Assert.Same(entry, cache.For([.. chain.Select(d => (byte[])d.Clone())]));
        Assert.NotSame(entry, cache.For(other));
        Assert.NotSame(entry, cache.For(chain[..1]));
        Assert.Equal("CN=mx.example.test", entry.Summaries[0].Subject);
        Assert.Equal(3, cache.Count);
    }

    [Fact]
    public void Check_WithEntry_ReusesTheVerdictWithinItsLifetime()
    {
        var cache = new UpstreamChainCache();
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(80));
        var entry = cache.For(chain);

        var first = Checked(chain, entry, TlsTestCertificates.Now);
        var verdict = entry.Verdict;
        var second = Checked(chain, entry, TlsTestCertificates.Now.AddMinutes(5));

        Assert.True(first.ChainTrusted);
        Assert.True(second.ChainTrusted);
        Assert.Equal(first.ChainStatus, second.ChainStatus);
        Assert.Same(verdict, entry.Verdict);
        Assert.True(second.NameMatches);
    }

    [Fact]
    public void Check_WithEntry_ChecksAgainAfterTheLifetime()
    {
        var cache = new UpstreamChainCache { Lifetime = TimeSpan.FromMinutes(10) };
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(80));
        var entry = cache.For(chain);

        Checked(chain, entry, TlsTestCertificates.Now);
        var verdict = entry.Verdict;
        Checked(chain, entry, TlsTestCertificates.Now.AddMinutes(11));

        Assert.NotSame(verdict, entry.Verdict);
        Assert.Equal(TlsTestCertificates.Now.AddMinutes(11), entry.Verdict!.CheckedAt);
    }

    [Fact]
    public void Check_WithEntry_LeafExpiresWithinTheLifetime_IsNotTrustedAfterIt()
    {
        var cache = new UpstreamChainCache { Lifetime = TimeSpan.FromDays(1) };
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddHours(1));
        var entry = cache.For(chain);

        var before = Checked(chain, entry, TlsTestCertificates.Now);
        var after = Checked(chain, entry, TlsTestCertificates.Now.AddHours(2));

        Assert.True(before.ChainTrusted);
        Assert.False(after.ChainTrusted);
        Assert.Contains("NotTimeValid", after.ChainStatus, StringComparison.Ordinal);
    }
}
