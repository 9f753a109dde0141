using System.Net;
using System.Text;
using SmtpLens.Net;

namespace SmtpLens.Tests.Net;

public sealed class ProxyHeaderParserTests
{
    [Fact]
    public void Parse_V1Tcp4_GivesAddressesAndExactLength()
    {
        var bytes = "PROXY TCP4 192.0.2.10 198.51.100.25 40000 25\r\nEHLO x\r\n"u8;

        var result = ProxyHeaderParser.Parse(bytes);

        Assert.Equal(ProxyParseStatus.Complete, result.Status);
        Assert.Equal(46, result.Length);
        Assert.Equal(IPEndPoint.Parse("192.0.2.10:40000"), result.Header!.Source);
        Assert.Equal(IPEndPoint.Parse("198.51.100.25:25"), result.Header.Destination);
        Assert.Equal(1, result.Header.Version);
        Assert.True(result.Header.CarriesAddresses);
    }

    [Fact]
    public void Parse_V1Tcp6_GivesAddresses()
    {
        var result = ProxyHeaderParser.Parse("PROXY TCP6 2001:db8::1 2001:db8::25 65535 25\r\n"u8);

        Assert.Equal(ProxyParseStatus.Complete, result.Status);
        Assert.Equal(IPEndPoint.Parse("[2001:db8::1]:65535"), result.Header!.Source);
    }

    [Fact]
    public void Parse_V1Unknown_HasNoAddresses()
    {
        var result = ProxyHeaderParser.Parse("PROXY UNKNOWN ignored stuff\r\n"u8);

        Assert.Equal(ProxyParseStatus.Complete, result.Status);
        Assert.Equal(ProxyCommand.Unknown, result.Header!.Command);
        Assert.False(result.Header.CarriesAddresses);
    }

    [Theory]
    [InlineData("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", "bare LF")]
    [InlineData("PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n", "not TCP4")]
    [InlineData("PROXY TCP4 192.0.2.1 2001:db8::1 1 2\r\n", "not TCP4 addresses")]
    [InlineData("PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n", "not TCP4 addresses")]
    [InlineData("PROXY TCP4 3221225985 192.0.2.2 1 2\r\n", "not TCP4 addresses")]
    [InlineData("PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", "ports")]
    [InlineData("PROXY TCP4 192.0.2.1 192.0.2.2 025 2\r\n", "ports")]
    [InlineData("PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n", "ports")]
    [InlineData("PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n", "6 single-space")]
    [InlineData("PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n", "6 single-space")]
    [InlineData("PROXY TCP6 ::1%eth0 ::1 1 2\r\n", "not TCP6 addresses")]
    [InlineData("PROXY X\r\n", "6 single-space")]
    [InlineData("EHLO client.example\r\n", "not a PROXY protocol header")]
    [InlineData("GET / HTTP/1.0\r\n", "not a PROXY protocol header")]
    public void Parse_MalformedV1_IsInvalidWithReason(string text, string reason)
    {
        var result = ProxyHeaderParser.Parse(Encoding.Latin1.GetBytes(text));

        Assert.Equal(ProxyParseStatus.Invalid, result.Status);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_V1ControlByte_IsInvalid()
    {
        var result = ProxyHeaderParser.Parse("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\0\r\n"u8);

        Assert.Equal(ProxyParseStatus.Invalid, result.Status);
        Assert.Contains("control", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_V1WithoutCrlfWithin107Bytes_IsInvalid()
    {
        var text = "PROXY UNKNOWN " + new string('a', 100);

        var result = ProxyHeaderParser.Parse(Encoding.ASCII.GetBytes(text));

        Assert.Equal(ProxyParseStatus.Invalid, result.Status);
        Assert.Contains("107", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_V1Prefix_AsksForOneByteMoreAtATime()
    {
        var header = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n"u8.ToArray();

        Assert.Equal(ProxyParseResult.More(ProxyHeaderParser.MinLength), ProxyHeaderParser.Parse([]));
        Assert.Equal(ProxyParseResult.More(ProxyHeaderParser.MinLength), ProxyHeaderParser.Parse(header.AsSpan(0, 3)));
        for (var have = ProxyHeaderParser.MinLength; have < header.Length; have++)
        {
            var result = ProxyHeaderParser.Parse(header.AsSpan(0, have));
            Assert.Equal(ProxyParseResult.More(have + 1), result);
        }
    }

    [Fact]
    public void Parse_V2Tcp4WithTlvs_GivesAddressesAndTlvTypes()
    {
        byte[] header =
        [
            .. ProxyHeaderParser.V2Signature, 0x21, 0x11, 0x00, 12 + 3 + 5 + 3,
            192, 0, 2, 10, 198, 51, 100, 25, 0x9C, 0x40, 0x00, 0x19,
            0x02, 0x00, 0x05, (byte)'m', (byte)'x', (byte)'.', (byte)'t', (byte)'t',
            0x04, 0x00, 0x00,
        ];

        var result = ProxyHeaderParser.Parse([.. header, .. "EHLO"u8]);

        Assert.Equal(ProxyParseStatus.Complete, result.Status);
        Assert.Equal(header.Length, result.Length);
        Assert.Equal(IPEndPoint.Parse("192.0.2.10:40000"), result.Header!.Source);
        Assert.Equal(IPEndPoint.Parse("198.51.100.25:25"), result.Header.Destination);
        Assert.Equal([0x02, 0x04], result.Header.TlvTypes);
    }

    [Fact]
    public void Parse_V2Local_IgnoresAddresses()
    {
        byte[] header = [.. ProxyHeaderParser.V2Signature, 0x20, 0x00, 0x00, 0x00];

        var result = ProxyHeaderParser.Parse(header);

        Assert.Equal(ProxyParseStatus.Complete, result.Status);
        Assert.Equal(ProxyCommand.Local, result.Header!.Command);
        Assert.False(result.Header.CarriesAddresses);
    }

    [Fact]
    public void Parse_V2Prefixes_AskForTheFixedPartThenTheBlock()
    {
        var header = ProxyHeaderWriter.WriteV2(IPEndPoint.Parse("[2001:db8::1]:1"), IPEndPoint.Parse("[2001:db8::2]:25"));

        Assert.Equal(ProxyParseResult.More(ProxyHeaderParser.MinLength), ProxyHeaderParser.Parse(header.AsSpan(0, 12)));
        Assert.Equal(ProxyParseResult.More(16), ProxyHeaderParser.Parse(header.AsSpan(0, 15)));
        Assert.Equal(ProxyParseResult.More(header.Length), ProxyHeaderParser.Parse(header.AsSpan(0, 16)));
        Assert.Equal(ProxyParseResult.More(header.Length), ProxyHeaderParser.Parse(header.AsSpan(0, header.Length - 1)));
    }

    [Theory]
    [InlineData(0x11, 0x11, 12, "version 1")]
    [InlineData(0x22, 0x11, 12, "command 2")]
    [InlineData(0x21, 0x12, 12, "not STREAM")]
    [InlineData(0x21, 0x31, 216, "AF_UNIX")]
    [InlineData(0x21, 0x41, 12, "address family 4")]
    [InlineData(0x21, 0x11, 8, "12-byte address block")]
    [InlineData(0x21, 0x21, 12, "36-byte address block")]
    [InlineData(0x21, 0x11, 14, "stray byte")]
    [InlineData(0x21, 0x11, 16, "claims")]
    public void Parse_MalformedV2_IsInvalidWithReason(byte versionCommand, byte family, int length, string reason)
    {
        var block = new byte[length];
        if (length >= 16)
        {
            block[12] = 0x02;
            block[13] = 0x00;
            block[14] = 0x09; // a TLV claiming 9 bytes where 1 remains
        }

        byte[] header = [.. ProxyHeaderParser.V2Signature, versionCommand, family, (byte)(length >> 8), (byte)length, .. block];

        var result = ProxyHeaderParser.Parse(header);

        Assert.Equal(ProxyParseStatus.Invalid, result.Status);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void BeginsLikeHeader_OnlySignaturePrefixes()
    {
        Assert.True(ProxyHeaderParser.BeginsLikeHeader("PRO"u8));
        Assert.True(ProxyHeaderParser.BeginsLikeHeader("PROXY TCP4"u8));
        Assert.True(ProxyHeaderParser.BeginsLikeHeader([0x0D, 0x0A, 0x0D]));
        Assert.False(ProxyHeaderParser.BeginsLikeHeader("EHLO"u8));
        Assert.False(ProxyHeaderParser.BeginsLikeHeader("\r\nQUIT"u8));
        Assert.False(ProxyHeaderParser.BeginsLikeHeader([]));
    }

    [Fact]
    public void Write_MixedFamilies_UseIpv4WhenMappedElseIpv6()
    {
        var mapped = new IPEndPoint(IPAddress.Parse("192.0.2.1").MapToIPv6(), 1);

        Assert.Equal("PROXY TCP4 192.0.2.1 192.0.2.2 1 25\r\n", Encoding.ASCII.GetString(ProxyHeaderWriter.WriteV1(mapped, IPEndPoint.Parse("192.0.2.2:25"))));
        Assert.StartsWith("PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 ", Encoding.ASCII.GetString(ProxyHeaderWriter.WriteV1(IPEndPoint.Parse("192.0.2.1:1"), IPEndPoint.Parse("[2001:db8::2]:25"))), StringComparison.Ordinal);
    }
}
