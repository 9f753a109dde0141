using System.Net;
using System.Net.Sockets;
using DnsClient;
using SmtpLens.Net.Resolver;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Probe;

/// <summary>The resolver (DnsClient.NET) against a loopback DNS responder on 127.0.0.1, port 0: no real DNS is ever asked.</summary>
public sealed class MxResolverTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task LookupAsync_Sorts_Mx_Hosts_By_Preference()
    {
        using var dns = LoopbackDns.Start().AddMx("example.com", 20, "backup.example.com").AddMx("example.com", 5, "mx1.example.com").AddMx("example.com", 10, "mx2.example.org");
        var lookup = await MxResolver.LookupAsync("example.com", dns.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Null(lookup.Problem);
        Assert.False(lookup.Implicit);
        Assert.Equal(["mx1.example.com", "mx2.example.org", "backup.example.com"], lookup.Targets);
        Assert.Equal("example.com", Assert.Single(dns.Questions).Name);
    }

    [Fact]
    public async Task LookupAsync_Without_Mx_Falls_Back_To_The_Domain_Itself()
    {
        using var dns = LoopbackDns.Start().AddAddress("host.example", IPAddress.Loopback);
        var lookup = await MxResolver.LookupAsync("host.example", dns.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.True(lookup.Implicit);
        Assert.Equal(["host.example"], lookup.Targets);
    }

    [Fact]
    public async Task LookupAsync_Reports_NxDomain_And_Null_Mx_As_Problems()
    {
        using var dns = LoopbackDns.Start().AddMx("nomail.example", 0, ".");
        var lookup = await MxResolver.LookupAsync("gone.example", dns.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Contains("does not exist (NXDOMAIN", lookup.Problem, StringComparison.Ordinal);
        Assert.Empty(lookup.Targets);

        var none = await MxResolver.LookupAsync("nomail.example", dns.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Contains("null MX (RFC 7505)", none.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LookupAsync_Does_Not_Take_A_Datagram_With_Another_Id()
    {
        using var dns = LoopbackDns.Start().AddMx("example.com", 10, "real.example.com");
        dns.SendWrongIdFirst = true;
        var lookup = await MxResolver.LookupAsync("example.com", dns.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Equal(["real.example.com"], lookup.Targets);
        Assert.Equal(2, dns.Questions.Count); // the spoofed datagram was refused and the query asked again
    }

    [Fact]
    public async Task LookupAsync_Retries_Over_Tcp_When_Truncated()
    {
        using var dns = LoopbackDns.Start().AddMx("example.com", 10, "big.example.com");
        dns.TruncateUdp = true;
        var lookup = await MxResolver.LookupAsync("example.com", dns.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Equal(["big.example.com"], lookup.Targets);
        Assert.Equal([false, true], dns.Questions.Select(q => q.Tcp));
    }

    [Fact]
    public async Task LookupAsync_Times_Out_On_A_Silent_Server()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var e = await Assert.ThrowsAsync<TimeoutException>(() => MxResolver.LookupAsync("example.com", (IPEndPoint)silent.LocalEndPoint!, TimeSpan.FromMilliseconds(300), TimeProvider.System, CancellationToken.None));
        Assert.Contains("did not answer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DnsServer_Asks_With_The_Do_Bit_And_Reports_The_Ad_Bit_Txt_And_Tlsa()
    {
        byte[] digest = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
        using var dns = LoopbackDns.Start()
            .AddTxt("_mta-sts.example.com", "v=STSv1; ", "id=20260101")
            .AddTlsa("_25._tcp.mx.example.com", 3, 1, 1, digest)
            .AddAddress("mx.example.com", IPAddress.Loopback)
            .Sign("_25._tcp.mx.example.com").Sign("mx.example.com");
        var server = new DnsServer(dns.EndPoint, Timeout, TimeProvider.System);

        var txt = await server.QueryAsync("_mta-sts.example.com", QueryType.TXT, CancellationToken.None);
        Assert.Equal(["v=STSv1; id=20260101"], txt.Txt);
        Assert.False(txt.Authentic);

        var tlsa = await server.QueryAsync("_25._tcp.mx.example.com", QueryType.TLSA, CancellationToken.None);
        var record = Assert.Single(tlsa.Tlsa);
        Assert.Equal((3, 1, 1), (record.Usage, record.Selector, record.MatchingType));
        Assert.Equal(digest, record.Data);
        Assert.True(tlsa.Authentic);

        var address = await server.QueryAsync("mx.example.com", QueryType.A, CancellationToken.None);
        Assert.Equal([IPAddress.Loopback], address.Addresses);
        Assert.Contains("AD set", address.Source, StringComparison.Ordinal);
        Assert.All(dns.Questions, q => Assert.True(q.DnssecOk, $"{q.Name} asked without DO"));
    }
}
