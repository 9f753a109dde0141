using System.Net;
using SmtpLens.Configuration;
using SmtpLens.Net;

namespace SmtpLens.Tests.Net;

public sealed class SockAddrTests
{
    [Fact]
    public void TryParse_SockaddrIn_ReadsNetworkOrderPortAndAddress()
    {
        // AF_INET=2 (host order), port 25 (network order), 198.51.100.2, 8 bytes of zero padding.
        byte[] bytes = [2, 0, 0, 25, 198, 51, 100, 2, 0, 0, 0, 0, 0, 0, 0, 0];

        Assert.True(SockAddr.TryParse(bytes, out var endPoint));
        Assert.Equal(IPEndPoint.Parse("198.51.100.2:25"), endPoint);
    }

    [Fact]
    public void TryParse_SockaddrIn6_ReadsAddressPortAndScope()
    {
        byte[] bytes = [10, 0, 0x01, 0xBB, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25, 3, 0, 0, 0];

        Assert.True(SockAddr.TryParse(bytes, out var endPoint));
        Assert.Equal(IPAddress.Parse("2001:db8::25"), new IPAddress(endPoint!.Address.GetAddressBytes()));
        Assert.Equal(443, endPoint.Port);
        Assert.Equal(3, endPoint.Address.ScopeId);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 2 })]
    [InlineData(new byte[] { 2, 0, 0, 25, 1, 2 })]
    [InlineData(new byte[] { 10, 0, 0, 25, 0, 0, 0, 0, 1, 2, 3 })]
    [InlineData(new byte[] { 1, 0, 0, 25, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void TryParse_ShortOrOtherFamily_IsFalse(byte[] bytes) =>
        Assert.False(SockAddr.TryParse(bytes, out _));

    [Fact]
    public void ParseEffective_ReadsCapEffMask()
    {
        const string status = "Name:\tsmtplens\nCapInh:\t0000000000000000\nCapEff:\t0000000000001400\nCapBnd:\t000001ffffffffff\n";

        var mask = LinuxCapabilities.ParseEffective(status);

        Assert.Equal(0x1400UL, mask);
        Assert.True(LinuxCapabilities.Has(mask!.Value, LinuxCapabilities.NetAdmin));
        Assert.True(LinuxCapabilities.Has(mask.Value, LinuxCapabilities.NetBindService));
        Assert.Null(LinuxCapabilities.ParseEffective("Name:\tx\n"));
    }

    [Fact]
    public void StartupCheck_NamesEachMissingCapabilityInOneLine()
    {
        var tproxy = new ListenerSettings("edge", new HostPort("0.0.0.0", 25), new HostPort("0.0.0.0", 0)) { Route = UpstreamRoute.Tproxy, SpoofSource = true };
        var plain = new ListenerSettings("lab", new HostPort("127.0.0.1", 2525), new HostPort("127.0.0.1", 25));

        var none = StartupCheck.Problems([tproxy, plain], 0, 1024);
        var all = StartupCheck.Problems([tproxy, plain], ulong.MaxValue, 1024);
        var unknown = StartupCheck.Problems([tproxy], null, 1024);

        Assert.Equal(2, none.Count);
        Assert.Contains(none, p => p.Contains("CAP_NET_BIND_SERVICE", StringComparison.Ordinal) && p.StartsWith("listener edge: port 25", StringComparison.Ordinal));
        Assert.Contains(none, p => p.Contains("CAP_NET_ADMIN", StringComparison.Ordinal) && p.Contains("--spoof-source", StringComparison.Ordinal));
        Assert.All(none, p => Assert.DoesNotContain('\n', p));
        Assert.Empty(all);
        Assert.Empty(unknown);
    }
}
