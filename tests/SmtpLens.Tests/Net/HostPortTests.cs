using System.Net;
using SmtpLens.Net;

namespace SmtpLens.Tests.Net;

public sealed class HostPortTests
{
    [Theory]
    [InlineData("mx.example.org:25", "mx.example.org", 25)]
    [InlineData("127.0.0.1:2525", "127.0.0.1", 2525)]
    [InlineData("  localhost:587  ", "localhost", 587)]
    [InlineData("[::1]:25", "::1", 25)]
    [InlineData("[2001:db8::5]:465", "2001:db8::5", 465)]
    [InlineData("*:25", "*", 25)]
    [InlineData("host:0", "host", 0)]
    [InlineData("host:65535", "host", 65535)]
    [InlineData("host:00025", "host", 25)]
    public void TryParse_Valid_GivesHostAndPort(string text, string host, int port)
    {
        Assert.True(HostPort.TryParse(text, out var value));

        Assert.Equal(new HostPort(host, port), value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("mx.example.org")]
    [InlineData(":25")]
    [InlineData("host:")]
    [InlineData("host:65536")]
    [InlineData("host:-1")]
    [InlineData("host:+25")]
    [InlineData("host: 25")]
    [InlineData("host:25x")]
    [InlineData("::1:25")]
    [InlineData("[::1]25")]
    [InlineData("[::1]:")]
    [InlineData("[::1")]
    [InlineData("[::1]:99999")]
    public void TryParse_Invalid_Fails(string? text)
    {
        Assert.False(HostPort.TryParse(text, out var value));
        Assert.Null(value);
    }

    [Theory]
    [InlineData("mx.example.org:25")]
    [InlineData("[::1]:25")]
    [InlineData("[2001:db8::5]:465")]
    public void ToString_RoundTrips(string text)
    {
        Assert.True(HostPort.TryParse(text, out var value));

        Assert.Equal(text, value.ToString());
        Assert.True(HostPort.TryParse(value.ToString(), out var again));
        Assert.Equal(value, again);
    }

    [Fact]
    public void Parse_Invalid_ThrowsWithWhatAndText()
    {
        var e = Assert.Throws<FormatException>(() => HostPort.Parse("nonsense", "--upstream"));

        Assert.Equal("--upstream: \"nonsense\" is not HOST:PORT (use [v6addr]:port for IPv6)", e.Message);
    }

    [Theory]
    [InlineData("*:25", "0.0.0.0", 25)]
    [InlineData("0.0.0.0:25", "0.0.0.0", 25)]
    [InlineData("[::]:25", "::", 25)]
    [InlineData("localhost:2525", "127.0.0.1", 2525)]
    [InlineData("192.0.2.1:587", "192.0.2.1", 587)]
    [InlineData("[::1]:25", "::1", 25)]
    public void ToBindEndPoint_KnownForms_GiveAnAddress(string text, string address, int port)
    {
        var endPoint = HostPort.Parse(text, "--listen").ToBindEndPoint();

        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endPoint);
    }

    [Fact]
    public void ToBindEndPoint_HostName_IsRefused()
    {
        var e = Assert.Throws<FormatException>(() => HostPort.Parse("mail.example.org:25", "--listen").ToBindEndPoint());

        Assert.Contains("must be an IP address", e.Message, StringComparison.Ordinal);
    }
}
