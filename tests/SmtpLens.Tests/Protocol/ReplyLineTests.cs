using SmtpLens.Protocol;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Protocol;

public sealed class ReplyLineTests
{
    [Theory]
    [InlineData("250 OK", 250, true, "OK")]
    [InlineData("250-PIPELINING", 250, false, "PIPELINING")]
    [InlineData("354 End data with <CR><LF>.<CR><LF>", 354, true, "End data with <CR><LF>.<CR><LF>")]
    [InlineData("221", 221, true, "")]
    [InlineData("550 ", 550, true, "")]
    [InlineData("421-", 421, false, "")]
    [InlineData("599 x", 599, true, "x")]
    [InlineData("250 a\0b", 250, true, "a\\0b")]
    public void TryParse_WellFormed_GivesCodeContinuationAndText(string line, int code, bool last, string text)
    {
        Assert.True(ReplyLine.TryParse(Bytes.Ascii(line), out var reply));

        Assert.Equal(new ReplyLine(code, last, text), reply);
    }

    [Theory]
    [InlineData("")]
    [InlineData("25")]
    [InlineData("150 too low")]
    [InlineData("650 too high")]
    [InlineData("2a0 x")]
    [InlineData("250x")]
    [InlineData("250\tOK")]
    [InlineData(" 250 OK")]
    [InlineData("hello")]
    public void TryParse_Malformed_Fails(string line)
    {
        Assert.False(ReplyLine.TryParse(Bytes.Ascii(line), out var reply));
        Assert.Equal(default, reply);
    }

    [Fact]
    public void ReplyAssembler_MultiLine_CompletesOnlyOnTheLastLine()
    {
        var assembler = new ReplyAssembler();

        Assert.Null(assembler.Add(new ReplyLine(250, false, "mx.example.org"), "250-mx.example.org"));
        Assert.True(assembler.InProgress);
        Assert.Null(assembler.Add(new ReplyLine(250, false, "PIPELINING"), "250-PIPELINING"));
        var reply = assembler.Add(new ReplyLine(250, true, "8BITMIME"), "250 8BITMIME");

        Assert.NotNull(reply);
        Assert.False(assembler.InProgress);
        Assert.Equal(250, reply.Code);
        Assert.Equal(["250-mx.example.org", "250-PIPELINING", "250 8BITMIME"], reply.RawLines);
        Assert.Equal("mx.example.org / PIPELINING / 8BITMIME", reply.Text);
        Assert.Equal("250-mx.example.org\n250-PIPELINING\n250 8BITMIME", reply.ToString());
        Assert.False(reply.HasMixedCodes);
        Assert.True(reply.IsPositive);
        Assert.Equal(2, reply.Class);
    }

    [Fact]
    public void ReplyAssembler_AfterAReply_StartsAFreshOne()
    {
        var assembler = new ReplyAssembler();
        assembler.Add(new ReplyLine(250, true, "first"), "250 first");

        var second = assembler.Add(new ReplyLine(354, true, "go"), "354 go");

        Assert.Equal(["354 go"], second!.RawLines);
        Assert.True(second.IsPositive);
    }

    [Fact]
    public void SmtpReply_MixedCodes_LastLineIsAuthoritative()
    {
        var reply = new SmtpReply([new ReplyLine(250, false, "a"), new ReplyLine(550, true, "b")], ["250-a", "550 b"]);

        Assert.True(reply.HasMixedCodes);
        Assert.Equal(550, reply.Code);
        Assert.False(reply.IsPositive);
    }

    [Theory]
    [InlineData(221, true)]
    [InlineData(334, true)]
    [InlineData(421, false)]
    [InlineData(554, false)]
    public void SmtpReply_IsPositive_ForClassesTwoAndThree(int code, bool positive)
    {
        Assert.Equal(positive, new SmtpReply([new ReplyLine(code, true, string.Empty)], [code.ToString(System.Globalization.CultureInfo.InvariantCulture)]).IsPositive);
    }
}
