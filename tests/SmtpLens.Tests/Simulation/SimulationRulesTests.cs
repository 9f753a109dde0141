using System.Text;
using SmtpLens.Protocol;
using SmtpLens.Simulation;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Simulation;

public sealed class SimulationRulesTests
{
    [Fact]
    public void Parse_EveryRule_RoundTripsThroughDescribe()
    {
        string[] specs =
        [
            "strip-keywords=STARTTLS,chunking", "mask-keywords=STARTTLS", "mask-banner", "refuse-commands=VRFY:502,etrn",
            "refuse-ehlo", "refuse-starttls", "client-tls=1.0:RC4", "upstream-tls=1.0-1.2", "drop-after-handshake=rc4",
        ];

        var rules = SimulationRules.Parse(specs);

        Assert.Equal(["CHUNKING", "STARTTLS"], rules.StripKeywords.Order(StringComparer.Ordinal));
        Assert.Equal(502, rules.RefuseCommands["VRFY"]);
        Assert.Equal(500, rules.RefuseCommands["ETRN"]);
        Assert.True(rules.MaskBanner && rules.RefuseEhlo && rules.RefuseStartTls && rules.FiltersEsmtp);
        Assert.Equal("RC4", rules.DropAfterHandshake);
        Assert.Equal(
            ["strip-keywords=CHUNKING,STARTTLS", "mask-keywords=STARTTLS", "mask-banner", "refuse-commands=ETRN:500,VRFY:502", "refuse-ehlo", "refuse-starttls", "client-tls=TLSv1.0:RC4", "upstream-tls=TLSv1.0-TLSv1.2", "drop-after-handshake=RC4"],
            rules.Describe());
        Assert.Equal(rules.Describe(), SimulationRules.Parse(rules.Describe()).Describe());
    }

    [Theory]
    [InlineData("strip-keyword=STARTTLS", "unknown rule \"strip-keyword\"")]
    [InlineData("strip-keywords", "strip-keywords needs a value, e.g. strip-keywords=STARTTLS,CHUNKING")]
    [InlineData("refuse-commands=VRFY:421", "the code must be 500 or 502")]
    [InlineData("client-tls=1.4", "is not one of tls1.0, tls1.1, tls1.2, tls1.3")]
    [InlineData("client-tls=1.2-1.0", "the first must not be above the second")]
    public void Parse_BadRule_SaysWhatIsWrong(string spec, string expected)
    {
        var e = Assert.Throws<FormatException>(() => SimulationRules.Parse([spec]));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TlsRestriction_Rc4OnTls10_GivesOnlyRc4SuitesAndThatVersion()
    {
        var policy = TlsRestriction.Parse("1.0:RC4").Apply();

        Assert.Equal(0x0301, policy.MinimumVersion);
        Assert.Equal(0x0301, policy.MaximumVersion);
        Assert.NotEmpty(policy.CipherSuites);
        Assert.All(policy.CipherSuites, s => Assert.Contains("_RC4_", TlsNames.CipherSuite(s), StringComparison.Ordinal));
    }

    [Fact]
    public void TlsRestriction_NoSuiteMatches_IsRefused() =>
        Assert.Contains("no cipher suite SmtpLens can speak matches CAMELLIA", Assert.Throws<FormatException>(() => TlsRestriction.Parse("1.2:CAMELLIA").Apply()).Message, StringComparison.Ordinal);

    [Fact]
    public void TlsRestriction_SuitesThatNeedANewerVersion_AreRefused() =>
        Assert.Contains("the cipher suites matching GCM need TLS 1.2, above TLSv1.0", Assert.Throws<FormatException>(() => TlsRestriction.Parse("1.0:GCM").Apply()).Message, StringComparison.Ordinal);

    [Fact]
    public void TlsRestriction_VersionRangeBelowTls12_KeepsOnlySuitesThatExistThere()
    {
        var policy = TlsRestriction.Parse("1.0-1.1").Apply();

        Assert.NotEmpty(policy.CipherSuites);
        Assert.All(policy.CipherSuites, s => Assert.DoesNotContain("GCM", TlsNames.CipherSuite(s), StringComparison.Ordinal));
        Assert.Contains(Org.BouncyCastle.Tls.CipherSuite.TLS_RSA_WITH_RC4_128_SHA, policy.CipherSuites);
    }
}

public sealed class EsmtpFilterTests
{
    private static byte[] Line(string text) => Encoding.ASCII.GetBytes(text + "\r\n");

    private static string Text(byte[]? line) => line is null ? "(dropped)" : Encoding.ASCII.GetString(line);

    [Fact]
    public void Banner_CiscoMaskBanner_KeepsTheCodeAndOnlyTheTwosAndZeros()
    {
        var filter = new EsmtpFilter(SimulationRules.Parse(["mask-banner"]));

        var rewrite = filter.Banner(Line("220 mx.example.test ESMTP Postfix 2.0 ready 20201"));

        Assert.Equal("220 ******************************2*0*******2020*\r\n", Text(rewrite.Line));
        Assert.Contains("masked the banner", rewrite.Change, StringComparison.Ordinal);
        Assert.Contains("\"220 mx.example.test ESMTP Postfix 2.0 ready 20201\"", rewrite.Change, StringComparison.Ordinal);
    }

    [Fact]
    public void Banner_NoRule_IsUntouched()
    {
        var line = Line("220 mx.example.test ESMTP");
        var rewrite = new EsmtpFilter(SimulationRules.Parse([])).Banner(line);
        Assert.Same(line, rewrite.Line);
        Assert.Null(rewrite.Change);
    }

    [Theory]
    [InlineData("250-STARTTLS", "250-XXXXXXXA")]
    [InlineData("250 STARTTLS", "250 XXXXXXXA")]
    [InlineData("250-starttls", "250-XXXXXXXA")]
    public void EhloLine_MaskedKeyword_IsTheSameLengthOfXsEndingInA(string sent, string expected)
    {
        var rewrite = new EsmtpFilter(SimulationRules.Parse(["mask-keywords=STARTTLS"])).EhloLine(Line(sent), isFirst: false, isLast: false);
        Assert.Equal(expected + "\r\n", Text(rewrite.Line));
        Assert.Contains($"masked EHLO keyword STARTTLS as XXXXXXXA: upstream sent \"{sent}\"", rewrite.Change, StringComparison.Ordinal);
    }

    [Fact]
    public void EhloLine_StrippedKeyword_IsDroppedAndOthersAndTheGreetingStay()
    {
        var filter = new EsmtpFilter(SimulationRules.Parse(["strip-keywords=STARTTLS,CHUNKING"]));

        Assert.Null(filter.EhloLine(Line("250-STARTTLS"), isFirst: false, isLast: false).Line);
        Assert.Null(filter.EhloLine(Line("250 CHUNKING"), isFirst: false, isLast: true).Line);
        Assert.Equal("250-PIPELINING\r\n", Text(filter.EhloLine(Line("250-PIPELINING"), isFirst: false, isLast: false).Line));
        Assert.Equal("250-STARTTLS\r\n", Text(filter.EhloLine(Line("250-STARTTLS"), isFirst: true, isLast: false).Line));
        Assert.Equal("250 PIPELINING\r\n", Text(EsmtpFilter.AsLastLine(Line("250-PIPELINING"))));
    }

    [Theory]
    [InlineData("refuse-starttls", "STARTTLS", "454 4.7.0 TLS not available due to temporary reason")]
    [InlineData("refuse-ehlo", "EHLO client.test", "500 5.5.1 Command unrecognized")]
    [InlineData("refuse-commands=VRFY", "VRFY bob", "500 5.5.1 Command unrecognized: \"VRFY\"")]
    [InlineData("refuse-commands=ETRN:502", "etrn example.test", "502 5.5.1 Command not implemented")]
    public void Judge_RefusedCommand_IsAnsweredLocally(string rule, string command, string reply)
    {
        var verdict = new EsmtpFilter(SimulationRules.Parse([rule])).Judge(SmtpCommand.Parse(Line(command)));
        Assert.False(verdict.Forward);
        Assert.Equal(reply, verdict.LocalReply);
    }

    [Fact]
    public void Judge_MaskedAndRefusedStartTls_QuotesTheXsAsCiscoDoes() =>
        Assert.Equal(
            "500 5.5.1 Command unrecognized: \"XXXXXXXX\"",
            new EsmtpFilter(SimulationRules.Parse(["mask-keywords=STARTTLS", "refuse-commands=STARTTLS"])).Judge(SmtpCommand.Parse(Line("STARTTLS"))).LocalReply);

    [Fact]
    public void Judge_OtherCommands_AreForwarded() =>
        Assert.True(new EsmtpFilter(SimulationRules.Parse(["refuse-commands=VRFY", "refuse-starttls"])).Judge(SmtpCommand.Parse(Line("MAIL FROM:<a@b.test>"))).Forward);
}
