using SmtpLens.Protocol;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Protocol;

public sealed class SmtpCommandTests
{
    [Theory]
    [InlineData("EHLO client.example.com\r\n", SmtpVerb.Ehlo, "EHLO", "client.example.com")]
    [InlineData("ehlo client.example.com\r\n", SmtpVerb.Ehlo, "EHLO", "client.example.com")]
    [InlineData("MaIl FROM:<a@b>\r\n", SmtpVerb.Mail, "MAIL", "FROM:<a@b>")]
    [InlineData("QUIT\r\n", SmtpVerb.Quit, "QUIT", "")]
    [InlineData("QUIT", SmtpVerb.Quit, "QUIT", "")]
    [InlineData("STARTTLS\r\n", SmtpVerb.StartTls, "STARTTLS", "")]
    [InlineData("BDAT 100 LAST\r\n", SmtpVerb.Bdat, "BDAT", "100 LAST")]
    [InlineData("XCLIENT ADDR=1.2.3.4\r\n", SmtpVerb.Xclient, "XCLIENT", "ADDR=1.2.3.4")]
    [InlineData("FOO bar baz\r\n", SmtpVerb.Unknown, "FOO", "bar baz")]
    [InlineData("\r\n", SmtpVerb.Unknown, "", "")]
    [InlineData("MAIL  FROM:<a@b>\r\n", SmtpVerb.Mail, "MAIL", " FROM:<a@b>")]
    public void Parse_SplitsVerbAndArguments(string line, object verb, string verbText, string arguments)
    {
        var command = SmtpCommand.Parse(Bytes.Ascii(line));

        Assert.Equal((SmtpVerb)verb, command.Verb);
        Assert.Equal(verbText, command.VerbText);
        Assert.Equal(arguments, command.Arguments);
    }

    [Fact]
    public void Parse_VerbFollowedByTab_IsNotAKnownVerb()
    {
        // RFC 5321 separates the verb with SP only; a tab keeps it one token.
        var command = SmtpCommand.Parse(Bytes.Ascii("QUIT\tnow\r\n"));

        Assert.Equal(SmtpVerb.Unknown, command.Verb);
    }

    [Fact]
    public void Parse_ControlBytesInArguments_AreEscapedAndFlagged()
    {
        var command = SmtpCommand.Parse([.. "MAIL FROM:<a\0b@c>\r"u8, (byte)'x', .. "\n"u8]);

        Assert.Equal(@"FROM:<a\0b@c>\rx", command.Arguments);
        Assert.Equal(LineAnomalies.Nul | LineAnomalies.BareCr | LineAnomalies.BareLf, command.Anomalies);
    }

    [Theory]
    [InlineData("MAIL FROM:<alice@example.com> SIZE=100 BODY=8BITMIME\r\n", "<alice@example.com>")]
    [InlineData("MAIL FROM:<>\r\n", "<>")]
    [InlineData("MAIL FROM: <spaced@example.com>\r\n", "<spaced@example.com>")]
    [InlineData("MAIL FROM:bare@example.com SIZE=1\r\n", "bare@example.com")]
    [InlineData("RCPT TO:<bob@example.org> NOTIFY=NEVER\r\n", "<bob@example.org>")]
    [InlineData("RCPT TO:<unterminated@example.org\r\n", "<unterminated@example.org")]
    [InlineData("MAIL <noprefix@example.com>\r\n", "<noprefix@example.com>")]
    public void Path_MailAndRcpt_GiveTheAngleAddress(string line, string path)
    {
        Assert.Equal(path, SmtpCommand.Parse(Bytes.Ascii(line)).Path);
    }

    [Theory]
    [InlineData("EHLO x\r\n")]
    [InlineData("DATA\r\n")]
    public void Path_OtherVerbs_IsNull(string line)
    {
        Assert.Null(SmtpCommand.Parse(Bytes.Ascii(line)).Path);
    }
}
