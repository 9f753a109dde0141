using System.Security.Cryptography.X509Certificates;
using SmtpLens.Policy;

namespace SmtpLens.Tests.Policy;

/// <summary>Policy chain checks reused per chain and trust store, and only while they still hold.</summary>
public sealed class ChainCheckCacheTests : IDisposable
{
    private readonly X509Certificate2 _ca = PolicyPki.Ca("Cache Test CA");
    private readonly X509Certificate2 _otherCa = PolicyPki.Ca("Other Cache CA");

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    private byte[][] Chain(DateTimeOffset notAfter)
    {
        using var leaf = PolicyPki.Leaf(_ca, ["mx.example.test"], notAfter: notAfter);
        return [leaf.RawData];
    }

    [Fact]
    public void Get_SameChainAndAnchors_ReusesTheCheck_AndGivesTheLeafSummary()
    {
        var cache = new ChainCheckCache();
        var chain = Chain(PolicyPki.Now.AddDays(60));
        IReadOnlyList<X509Certificate2> anchors = [_ca];

        var (first, leaf) = cache.Get(chain, anchors, PolicyPki.Now);
        var (second, sameLeaf) = cache.Get([.. chain.Select(d => (byte[])d.Clone())], anchors, PolicyPki.Now.AddMinutes(5));

        Assert.True(first.Valid);
        Assert.Same(first, second);
        Assert.Same(leaf, sameLeaf);
        Assert.Equal(["mx.example.test"], leaf!.DnsNames);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Get_OtherAnchors_ChecksAgainstThem()
    {
        var cache = new ChainCheckCache();
        var chain = Chain(PolicyPki.Now.AddDays(60));

        var trusted = cache.Get(chain, [_ca], PolicyPki.Now).Check;
        var untrusted = cache.Get(chain, [_otherCa], PolicyPki.Now).Check;

        Assert.True(trusted.Trusted);
        Assert.False(untrusted.Trusted);
        Assert.Equal(ChainCheck.Run(chain, [_otherCa], PolicyPki.Now), untrusted);
    }

    [Fact]
    public void Get_AfterTheLifetime_ChecksAgain()
    {
        var cache = new ChainCheckCache { Lifetime = TimeSpan.FromMinutes(10) };
        var chain = Chain(PolicyPki.Now.AddDays(60));
        IReadOnlyList<X509Certificate2> anchors = [_ca];

        var first = cache.Get(chain, anchors, PolicyPki.Now).Check;
        var again = cache.Get(chain, anchors, PolicyPki.Now.AddMinutes(11)).Check;

        Assert.NotSame(first, again);
        Assert.Equal(first, again);
    }

    [Fact]
    public void Get_LeafExpiresWithinTheLifetime_IsExpiredAfterIt()
    {
        var cache = new ChainCheckCache { Lifetime = TimeSpan.FromDays(1) };
        var chain = Chain(PolicyPki.Now.AddHours(1));
        IReadOnlyList<X509Certificate2> anchors = [_ca];

        var before = cache.Get(chain, anchors, PolicyPki.Now).Check;
        var after = cache.Get(chain, anchors, PolicyPki.Now.AddHours(2)).Check;

        Assert.True(before.Valid);
        Assert.True(after.Expired);
        Assert.Equal("certificate has expired", after.OpenSslProblem);
    }

    [Fact]
    public void Get_EmptyChain_NoLeaf_NotCached()
    {
        var cache = new ChainCheckCache();

        var (check, leaf) = cache.Get([], null, PolicyPki.Now);

        Assert.False(check.Trusted);
        Assert.Null(leaf);
        Assert.Equal(0, cache.Count);
    }
}
