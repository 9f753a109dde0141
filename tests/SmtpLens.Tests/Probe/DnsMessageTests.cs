using SmtpLens.Net.Resolver;

namespace SmtpLens.Tests.Probe;

public sealed class DnsMessageTests
{
    [Fact]
    public void BuildMxQuery_Writes_Header_Question_Type_And_Class()
    {
        var query = DnsMessage.BuildMxQuery(0xbeef, "example.com.");
        byte[] expected =
        [
            0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
            7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 3, (byte)'c', (byte)'o', (byte)'m', 0,
            0, 15, 0, 1,
        ];
        Assert.Equal(expected, query);
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("bad label.example")]
    [InlineData("ümlaut.example")]
    public void EncodeName_Refuses_Names_DNS_Cannot_Carry(string name) =>
        Assert.Throws<FormatException>(() => DnsMessage.EncodeName(name));

    [Fact]
    public void ParseResponse_Reads_Compressed_Mx_Answers()
    {
        var query = DnsMessage.BuildMxQuery(7, "example.com");
        var response = DnsMessage.ParseResponse(DnsResponses.Mx(query, 0, false, (20, "mx2.example.com"), (10, "mx1.example.net")));
        Assert.Equal(7, response.Id);
        Assert.Equal(DnsResponse.NoError, response.ResponseCode);
        Assert.False(response.Truncated);
        Assert.Equal([new MxRecord(20, "mx2.example.com"), new MxRecord(10, "mx1.example.net")], response.Mx);
    }

    [Fact]
    public void ParseResponse_Reports_NxDomain_And_Truncation()
    {
        var query = DnsMessage.BuildMxQuery(9, "nowhere.example");
        var response = DnsMessage.ParseResponse(DnsResponses.Mx(query, DnsResponse.NameError, true));
        Assert.Equal("NXDOMAIN", response.ResponseCodeName);
        Assert.True(response.Truncated);
        Assert.Empty(response.Mx);
    }

    [Fact]
    public void ParseResponse_Reads_Null_Mx()
    {
        var query = DnsMessage.BuildMxQuery(1, "nomail.example");
        var mx = Assert.Single(DnsMessage.ParseResponse(DnsResponses.Mx(query, 0, false, (0, ""))).Mx);
        Assert.True(mx.IsNullMx);
    }

    [Fact]
    public void ParseResponse_Refuses_A_Compression_Loop()
    {
        var query = DnsMessage.BuildMxQuery(1, "loop.example");
        var response = DnsResponses.Mx(query, 0, false, (10, "mx.loop.example"));

        // Point the answer's owner name at itself.
        var owner = 12 + query.Length - 12;
        response[owner] = 0xc0;
        response[owner + 1] = (byte)owner;
        Assert.Throws<FormatException>(() => DnsMessage.ParseResponse(response));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(11)]
    [InlineData(40)]
    public void ParseResponse_Refuses_Truncated_Messages(int keep)
    {
        var query = DnsMessage.BuildMxQuery(1, "short.example");
        var response = DnsResponses.Mx(query, 0, false, (10, "mx.short.example"));
        Assert.Throws<FormatException>(() => DnsMessage.ParseResponse(response.AsSpan(0, keep)));
    }

    [Fact]
    public void ParseResponse_Refuses_A_Query()
    {
        var query = DnsMessage.BuildMxQuery(1, "example.com");
        Assert.Throws<FormatException>(() => DnsMessage.ParseResponse(query));
    }

    [Fact]
    public void ParseResponse_Survives_Random_Garbage_With_FormatException_Only()
    {
        var random = new Random(4242);
        var query = DnsMessage.BuildMxQuery(1, "fuzz.example");
        var valid = DnsResponses.Mx(query, 0, false, (10, "mx.fuzz.example"), (20, "backup.example.org"));
        for (var i = 0; i < 2000; i++)
        {
            var mutated = (byte[])valid.Clone();
            mutated[random.Next(2, mutated.Length)] = (byte)random.Next(256);
            try
            {
                DnsMessage.ParseResponse(mutated.AsSpan(0, random.Next(mutated.Length + 1)));
            }
            catch (FormatException)
            {
                // The only acceptable failure.
            }
        }
    }
}
