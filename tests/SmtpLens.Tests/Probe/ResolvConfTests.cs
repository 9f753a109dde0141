using System.Net;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Tests.Probe;

public sealed class ResolvConfTests
{
    [Fact]
    public void Parse_Takes_Nameserver_Lines_In_Order_And_Skips_The_Rest()
    {
        var servers = ResolvConf.Parse("""
            # written by a DHCP client
            search corp.example
            nameserver 10.0.0.53
            nameserver   fe80::1%eth0   ; link-local
            nameserver not-an-address
            options ndots:2
            nameserver 9.9.9.9 # public
            """);
        Assert.Equal([new IPEndPoint(IPAddress.Parse("10.0.0.53"), 53), new IPEndPoint(IPAddress.Parse("fe80::1"), 53), new IPEndPoint(IPAddress.Parse("9.9.9.9"), 53)], servers);
    }

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1:53")]
    [InlineData("127.0.0.1:5353", "127.0.0.1:5353")]
    [InlineData("::1", "[::1]:53")]
    [InlineData("[::1]:5300", "[::1]:5300")]
    public void ParseServer_Accepts_Ip_With_Optional_Port(string text, string expected) =>
        Assert.Equal(expected, ResolvConf.ParseServer(text).ToString());

    [Theory]
    [InlineData("dns.example")]
    [InlineData("127.0.0.1:0")]
    [InlineData("")]
    public void ParseServer_Refuses_Names_And_Port_Zero(string text) =>
        Assert.Throws<FormatException>(() => ResolvConf.ParseServer(text));
}
