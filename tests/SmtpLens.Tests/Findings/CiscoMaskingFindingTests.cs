using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Findings;

/// <summary>Cisco PIX/ASA ESMTP inspection, in the literal forms it writes.</summary>
public sealed class CiscoMaskingFindingTests
{
    private const string MaskedSession = """
        S: 220 ****************************2*0***0****
        C: EHLO mail.fabrikam.com
        S: 250-mail.contoso.com Hello [192.0.2.10]
        S: 250-SIZE 37748736
        S: 250-PIPELINING
        S: 250-DSN
        S: 250-ENHANCEDSTATUSCODES
        S: 250-XXXXXXXA
        S: 250-AUTH NTLM
        S: 250-8BITMIME
        S: 250-BINARYMIME
        S: 250 CHUNKING
        C: MAIL FROM:<a@fabrikam.com>
        S: 250 2.1.0 Sender OK
        C: QUIT
        S: 221 2.0.0 Service closing transmission channel
        S! close
        C! close
        """;

    [Fact]
    public void MaskedBanner_IsBannerMasked_QuotingTheLine()
    {
        var findings = new SessionEvents().Smtp(MaskedSession).Disconnect().Findings;

        var banner = Assert.Single(findings, f => f.Code == FindingCodes.BannerMasked);
        Assert.Equal(FindingSeverity.Warning, banner.Severity);
        Assert.Equal(FindingLeg.Upstream, banner.Leg);
        Assert.Contains("220 ****************************2*0***0****", banner.Title, StringComparison.Ordinal);
        Assert.Equal("S: 220 ****************************2*0***0****", Assert.Single(banner.Evidence).Text);
    }

    [Fact]
    public void MaskedEightLetterKeyword_IsReportedAsLikelyStartTls_AndStartTlsNotOfferedIsAWarning()
    {
        var findings = new SessionEvents().Smtp(MaskedSession).Disconnect().Findings;

        var masked = Assert.Single(findings, f => f.Code == FindingCodes.EhloKeywordMasked);
        Assert.Contains("\"XXXXXXXA\"", masked.Title, StringComparison.Ordinal);
        Assert.Contains("most likely STARTTLS", masked.Title, StringComparison.Ordinal);
        Assert.Equal("STARTTLS", masked.Facts["likely"]);

        // CHUNKING and 8BITMIME are shown unmasked, so they are not candidates.
        Assert.Equal(["STARTTLS", "SMTPUTF8", "XFORWARD"], (IEnumerable<string>)masked.Facts["candidates"]!);
        Assert.Equal("S: 250-XXXXXXXA", Assert.Single(masked.Evidence).Text);

        var notOffered = Assert.Single(findings, f => f.Code == FindingCodes.StartTlsNotOffered);
        Assert.Equal(FindingSeverity.Warning, notOffered.Severity);
        Assert.StartsWith("The same reply has a masked 8-letter keyword (XXXXXXXA)", notOffered.Causes[0], StringComparison.Ordinal);
    }

    [Fact]
    public void StartTlsMaskedOnTheWay_ServerEchoesXs_IsCommandMaskedNotStartTlsRejected()
    {
        var findings = new SessionEvents().Smtp("""
            S: 220 mx.example.org ESMTP Postfix (Debian/GNU)
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250 8BITMIME
            C: STARTTLS
            S: 500 5.5.1 Command unrecognized: "XXXXXXXX"
            C: QUIT
            S: 221 2.0.0 Bye
            S! close
            C! close
            """).Disconnect().Findings;

        var masked = Assert.Single(findings, f => f.Code == FindingCodes.CommandMasked);
        Assert.Equal(FindingSeverity.Error, masked.Severity);
        Assert.Equal("STARTTLS reached the server as \"XXXXXXXX\" and was refused: 500 5.5.1 Command unrecognized: \"XXXXXXXX\"", masked.Title);
        Assert.Equal(["C: STARTTLS", "S: 500 5.5.1 Command unrecognized: \"XXXXXXXX\""], masked.Evidence.Select(e => e.Text));
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.StartTlsRejected);
    }

    [Fact]
    public void MaskedCommandSeenBehindTheFirewall_IsCommandMasked()
    {
        var findings = new SessionEvents().Smtp("""
            S: 220 mx.example.org ESMTP
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 XXXXXXXA
            C: XXXXXXXX
            S: 500 5.5.1 Command unrecognized: "XXXXXXXX"
            C: QUIT
            S: 221 2.0.0 Bye
            S! close
            C! close
            """).Disconnect().Findings;

        var masked = Assert.Single(findings, f => f.Code == FindingCodes.CommandMasked);
        Assert.Contains("most likely STARTTLS", masked.Title, StringComparison.Ordinal);
        Assert.Contains(findings, f => f.Code == FindingCodes.EhloKeywordMasked);
    }

    [Theory]
    [InlineData("XXXXXXXA", true)]
    [InlineData("XXXXXXXB", true)]
    [InlineData("XXXX", true)]
    [InlineData("********", true)]
    [InlineData("XEXCH50", false)]
    [InlineData("X-EXPS", false)]
    [InlineData("XRDST", false)]
    [InlineData("X-ANONYMOUSTLS", false)]
    [InlineData("XXA", false)]
    [InlineData("STARTTLS", false)]
    public void MaskedToken_RecognizesFillerOnly(string token, bool masked) =>
        Assert.Equal(masked, MaskedText.IsMaskedToken(token));

    [Theory]
    [InlineData("****************************2*0***0****", true)]
    [InlineData("********************************", true)]
    [InlineData("mx.example.org ESMTP Postfix (Debian/GNU)", false)]
    [InlineData("SN1NAM02FT021.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Fri, 6 Dec 2013 21:54:51 +0000", false)]
    [InlineData("mail.example.net ESMTP Exim 4.96 Mon, 17 Nov 2025 10:00:00 +0000", false)]
    [InlineData("mx.example.org ESMTP *** no UCE ***", false)]
    public void MaskedBanner_NeedsMostlyAsterisks(string text, bool masked) =>
        Assert.Equal(masked, MaskedText.IsMaskedBanner(text));

    [Fact]
    public void FourLetterMask_ListsFourLetterCandidates()
    {
        var findings = new SessionEvents().Smtp("""
            S: 220 mx.example.org ESMTP
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250-SIZE 1000000
            S: 250-XXXX
            S: 250 STARTTLS
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """).Disconnect().Findings;

        var masked = Assert.Single(findings);
        Assert.Equal(FindingCodes.EhloKeywordMasked, masked.Code);
        Assert.Contains("4 letters, most likely AUTH (or ETRN, VRFY, EXPN, HELP", masked.Title, StringComparison.Ordinal);
        Assert.Equal(EventKinds.Reply, masked.Evidence[0].Kind);
    }
}
