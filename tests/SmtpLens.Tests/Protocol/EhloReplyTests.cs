using SmtpLens.Protocol;

namespace SmtpLens.Tests.Protocol;

public sealed class EhloReplyTests
{
    [Fact]
    public void From_MultiLine250_GivesDomainGreetingAndKeywords()
    {
        var reply = Reply(
            "250-SN1NAM02FT021.mail.protection.outlook.com Hello [1.2.3.4]",
            "250-SIZE 157286400",
            "250-auth LOGIN PLAIN",
            "250 CHUNKING");

        var ehlo = EhloReply.From(reply)!;

        Assert.Equal("SN1NAM02FT021.mail.protection.outlook.com", ehlo.Domain);
        Assert.Equal("Hello [1.2.3.4]", ehlo.Greeting);
        Assert.Equal(
            [new EhloKeyword("SIZE", "157286400", "250-SIZE 157286400"), new EhloKeyword("AUTH", "LOGIN PLAIN", "250-auth LOGIN PLAIN"), new EhloKeyword("CHUNKING", string.Empty, "250 CHUNKING")],
            ehlo.Keywords);
        Assert.True(ehlo.Has("Auth"));
        Assert.False(ehlo.Has("STARTTLS"));
        Assert.Equal(reply.RawLines, ehlo.RawLines);
    }

    [Fact]
    public void From_SingleLine_HasNoKeywords()
    {
        var ehlo = EhloReply.From(Reply("250 mx.example.org"))!;

        Assert.Equal("mx.example.org", ehlo.Domain);
        Assert.Equal(string.Empty, ehlo.Greeting);
        Assert.Empty(ehlo.Keywords);
    }

    [Theory]
    [InlineData("502 5.5.2 Error: command not recognized")]
    [InlineData("421 4.3.2 Service not available")]
    public void From_NotA250_IsNull(string line)
    {
        Assert.Null(EhloReply.From(Reply(line)));
    }

    private static SmtpReply Reply(params string[] lines)
    {
        var parsed = lines.Select(l => ReplyLine.TryParse(System.Text.Encoding.ASCII.GetBytes(l), out var r) ? r : throw new FormatException(l)).ToList();
        return new SmtpReply(parsed, lines);
    }
}
