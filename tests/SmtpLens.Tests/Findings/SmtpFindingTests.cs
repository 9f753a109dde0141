using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Findings;

/// <summary>Positive and negative cases for the detectors that read the SMTP dialogue.</summary>
public sealed class SmtpFindingTests
{
    private static IReadOnlyList<Finding> Run(string script, string end = "Quit") => new SessionEvents().Smtp(script).Disconnect(end).Findings;

    [Fact]
    public void Seed000_EopWithoutStartTls_ClientQuits_IsAWarningLedByTheBlockListCause()
    {
        var findings = Run(HealthyDialogueFindingTests.Text("exchange-eop-seed000"));

        var only = Assert.Single(findings);
        Assert.Equal(FindingCodes.StartTlsNotOffered, only.Code);
        Assert.Equal(FindingSeverity.Warning, only.Severity);
        Assert.Contains("the client quit right after it without sending mail", only.Title, StringComparison.Ordinal);
        Assert.Contains("block list", only.Causes[0], StringComparison.Ordinal);
        Assert.Contains(only.Causes, c => c.Contains("firewall", StringComparison.Ordinal));
        Assert.Contains(only.Causes, c => c.Contains("SMTP only", StringComparison.Ordinal));
        Assert.Contains(only.Causes, c => c.Contains("not configured for TLS", StringComparison.Ordinal));
        Assert.Equal("S: 250 CHUNKING", only.Evidence[^2].Text);
        Assert.Equal("C: QUIT", only.Evidence[^1].Text);
    }

    [Fact]
    public void Seed000Reply_ClientCarriesOnWithMail_IsInfoOnly()
    {
        var script = HealthyDialogueFindingTests.Text("exchange-eop-seed000").Replace("C: QUIT", "C: MAIL FROM:<a@contoso.com>\nS: 250 2.1.0 Sender OK\nC: QUIT", StringComparison.Ordinal);

        var only = Assert.Single(Run(script));

        Assert.Equal(FindingSeverity.Info, only.Severity);
    }

    [Fact]
    public void EhloRefusedThenHelo_IsEhloRejected()
    {
        var findings = Run("""
            S: 220 mail.example.com ESMTP
            C: EHLO client.example.com
            S: 500 5.5.1 Command unrecognized: "EHLO client.example.com"
            C: HELO client.example.com
            S: 250 mail.example.com
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var rejected = Assert.Single(findings, f => f.Code == FindingCodes.EhloRejected);
        Assert.Equal(FindingSeverity.Warning, rejected.Severity);
        Assert.Contains("HELO was accepted", rejected.Title, StringComparison.Ordinal);
        Assert.Equal(["C: EHLO client.example.com", "S: 500 5.5.1 Command unrecognized: \"EHLO client.example.com\"", "C: HELO client.example.com", "S: 250 mail.example.com"], rejected.Evidence.Select(e => e.Text));
    }

    [Fact]
    public void EhloAccepted_IsNotEhloRejected() =>
        Assert.DoesNotContain(Run(HealthyDialogueFindingTests.Text("postfix-esmtp")), f => f.Code == FindingCodes.EhloRejected);

    [Theory]
    [InlineData("454 4.7.0 TLS not available due to local problem", "STARTTLS refused: 454")]
    [InlineData("502 5.5.1 Error: command not implemented", "STARTTLS refused: 502")]
    [InlineData("250 OK", "STARTTLS answered with a non-standard code: 250")]
    public void StartTlsAdvertisedButNotAccepted_IsStartTlsRejected(string reply, string title)
    {
        var findings = Run($"""
            S: 220 mx.example.org ESMTP Postfix
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 STARTTLS
            C: STARTTLS
            S: {reply}
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var rejected = Assert.Single(findings, f => f.Code == FindingCodes.StartTlsRejected);
        Assert.StartsWith(title, rejected.Title, StringComparison.Ordinal);
        Assert.Equal($"S: {reply}", rejected.Evidence[^1].Text);
    }

    [Fact]
    public void PostfixEncrypt_ClientIgnoresOfferedStartTls_IsTlsRequiredNotStarted_BlamingTheSender()
    {
        var findings = Run("""
            S: 220 mx.example.org ESMTP Postfix (Debian/GNU)
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250-STARTTLS
            S: 250 8BITMIME
            C: MAIL FROM:<alice@example.com>
            S: 530 5.7.0 Must issue a STARTTLS command first
            C: QUIT
            S: 221 2.0.0 Bye
            S! close
            C! close
            """);

        var required = Assert.Single(findings, f => f.Code == FindingCodes.TlsRequiredNotStarted);
        Assert.Equal(FindingSeverity.Error, required.Severity);
        Assert.Equal(FindingLeg.Client, required.Leg);
        Assert.Contains("530 5.7.0 Must issue a STARTTLS command first", required.Title, StringComparison.Ordinal);
        Assert.StartsWith("STARTTLS was offered in this session and the client did not use it", required.Causes[0], StringComparison.Ordinal);
        Assert.Equal(["C: MAIL FROM:<alice@example.com>", "S: 530 5.7.0 Must issue a STARTTLS command first"], required.Evidence.Select(e => e.Text));
    }

    [Fact]
    public void TlsDemandedButStartTlsNeverOffered_BlamesTheReceivingSide()
    {
        var findings = Run("""
            S: 220 SN1NAM02FT021.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready
            C: EHLO mail.contoso.com
            S: 250-SN1NAM02FT021.mail.protection.outlook.com Hello [1.2.3.4]
            S: 250-SIZE 157286400
            S: 250 CHUNKING
            C: MAIL FROM:<a@contoso.com>
            S: 451 5.7.3 STARTTLS is required to send mail
            C: QUIT
            S: 221 2.0.0 Service closing transmission channel
            S! close
            C! close
            """);

        var required = Assert.Single(findings, f => f.Code == FindingCodes.TlsRequiredNotStarted);
        Assert.StartsWith("The EHLO reply in this session did not offer STARTTLS", required.Causes[0], StringComparison.Ordinal);
        var deferral = Assert.Single(findings, f => f.Code == FindingCodes.UpstreamDeferral);
        Assert.Equal("MAIL deferred: 451 5.7.3 STARTTLS is required to send mail", deferral.Title);
    }

    [Fact]
    public void TlsDemanded_ThenClientStartsTls_IsNotAFinding()
    {
        var session = new SessionEvents().Smtp("""
            S: 220 mx.example.org ESMTP Postfix
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 STARTTLS
            C: MAIL FROM:<alice@example.com>
            S: 530 5.7.0 Must issue a STARTTLS command first
            C: STARTTLS
            S: 220 2.0.0 Ready to start TLS
            """)
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: SessionEvents.Certificate("mx.example.org", ["mx.example.org"]), nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client"))
            .Smtp(HealthyDialogues.PostfixInsideTls, afterTls: true)
            .Disconnect();

        Assert.DoesNotContain(session.Findings, f => f.Code == FindingCodes.TlsRequiredNotStarted);
    }

    [Fact]
    public void StartTlsInjectionAnomaly_IsStartTlsInjection_WithTheLiteralBytes()
    {
        var injection = StartTlsInjectionFrom("STARTTLS injection: client sent 24 bytes of plaintext after STARTTLS before TLS began; discarded, not forwarded: MAIL FROM:<x@example>\\r\\n", "client", 24);

        Assert.Equal(FindingSeverity.Error, injection.Severity);
        Assert.Equal("the client sent 24 bytes of plaintext after STARTTLS: MAIL FROM:<x@example>\\r\\n", injection.Title);
        Assert.Equal("C: STARTTLS", injection.Evidence[0].Text);
    }

    [Fact]
    public void UpstreamPlaintextAfterIts220_IsStartTlsInjectionOnTheUpstreamLeg()
    {
        var injection = StartTlsInjectionFrom("STARTTLS injection: upstream sent 20 bytes of plaintext after its 220 to STARTTLS before TLS began; discarded, not forwarded: 250 injected-reply\\r\\n", "upstream", 20);

        Assert.Equal(FindingSeverity.Error, injection.Severity);
        Assert.Equal("the upstream sent 20 bytes of plaintext after its 220 to STARTTLS: 250 injected-reply\\r\\n", injection.Title);
        Assert.Equal(FindingLeg.Upstream, injection.Leg);
        Assert.Equal("C: STARTTLS", injection.Evidence[0].Text);
    }

    /// <summary>A STARTTLS accepted with 220, then the anomaly as SmtpSession.DiscardInjected records it.</summary>
    private static Finding StartTlsInjectionFrom(string text, string leg, long bytes)
    {
        var session = new SessionEvents().Smtp("""
            S: 220 mx.example.org ESMTP Postfix
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 STARTTLS
            C: STARTTLS
            S: 220 2.0.0 Ready to start TLS
            """);
        session.Event(Direction.Proxy, EventKinds.Anomaly, text, new Dictionary<string, object?> { ["anomaly"] = "starttls-injection", ["leg"] = leg, ["bytes"] = bytes });
        return Assert.Single(session.Disconnect("ClientClosed").Findings, f => f.Code == FindingCodes.StartTlsInjection);
    }

    [Fact]
    public void NoInjectionAnomaly_NoStartTlsInjection() =>
        Assert.DoesNotContain(HealthyDialogues.Tls(HealthyDialogues.PostfixBeforeTls, HealthyDialogues.PostfixInsideTls, "mx.example.org", ["mx.example.org"]).Findings, f => f.Code == FindingCodes.StartTlsInjection);

    [Theory]
    [InlineData("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1", "Spamhaus", "https://www.spamhaus.org/query/ip/192.0.2.1")]
    [InlineData("550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions.", "Microsoft", "https://sender.office.com/")]
    [InlineData("550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", "Microsoft", "http://mail.live.com/mail/troubleshooting.aspx#errors")]
    [InlineData("550 5.7.1 Rejected: 192.0.2.1 listed at cbl.abuseat.org", "CBL", null)]
    [InlineData("554 Your access to this mail system has been rejected due to the sending MTA's poor reputation. If you believe that this failure is in error, please contact the intended recipient via alternate means. (b.barracudacentral.org)", "Barracuda", null)]
    public void BlockListReply_IsBlocklistRejection_NamingTheListAndHint(string reply, string list, string? hint)
    {
        var findings = Run($"""
            S: 220 mx.example.org ESMTP
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 STARTTLS
            C: MAIL FROM:<alice@example.com>
            S: 250 2.1.0 Ok
            C: RCPT TO:<bob@example.org>
            S: {reply}
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var blocked = Assert.Single(findings, f => f.Code == FindingCodes.BlocklistRejection);
        Assert.Equal(FindingSeverity.Error, blocked.Severity);
        Assert.Equal(list, blocked.Facts["list"]);
        Assert.Equal(hint, blocked.Facts["delistingHint"]);
        Assert.Contains($"({list})", blocked.Title, StringComparison.Ordinal);
        if (hint is not null)
        {
            Assert.Contains(hint, blocked.NextStep, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ClientHostPolicyDeferral_IsABlocklistWarning()
    {
        var findings = Run("""
            S: 220 mx.example.org ESMTP Postfix
            C: EHLO client.example.com
            S: 250 mx.example.org
            C: MAIL FROM:<alice@example.com>
            S: 250 2.1.0 Ok
            C: RCPT TO:<bob@example.org>
            S: 450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var blocked = Assert.Single(findings, f => f.Code == FindingCodes.BlocklistRejection);
        Assert.Equal(FindingSeverity.Warning, blocked.Severity);
        Assert.Contains("policy against the client's IP", blocked.Title, StringComparison.Ordinal);
        Assert.Contains(findings, f => f.Code == FindingCodes.UpstreamDeferral);
    }

    [Theory]
    [InlineData("554 5.7.1 <bob@example.org>: Relay access denied")]
    [InlineData("550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in local recipient table")]
    [InlineData("550 Unrouteable address")]
    [InlineData("550 5.7.1 Message rejected as spam by Content Filtering.")]
    public void RecipientRefusals_AreNotBlocklistRejections(string reply)
    {
        var findings = Run($"""
            S: 220 mx.example.org ESMTP
            C: EHLO client.example.com
            S: 250 mx.example.org
            C: MAIL FROM:<alice@example.com>
            S: 250 2.1.0 Ok
            C: RCPT TO:<bob@example.org>
            S: {reply}
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.BlocklistRejection);
        Assert.DoesNotContain(findings, f => f.Severity >= FindingSeverity.Warning);
    }

    [Fact]
    public void GreylistingAndContentDeferral_AreUpstreamDeferrals_Quoted()
    {
        var findings = Run("""
            S: 220 mx.example.org ESMTP Postfix
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 STARTTLS
            C: MAIL FROM:<alice@example.com>
            S: 250 2.1.0 Ok
            C: RCPT TO:<bob@example.org>
            S: 450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html
            C: RCPT TO:<carol@example.org>
            S: 250 2.1.5 Ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: x
            C:
            C: body
            C: .
            S: 451 4.3.0 Error: queue file write error
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var deferrals = findings.Where(f => f.Code == FindingCodes.UpstreamDeferral).ToList();
        Assert.Equal(2, deferrals.Count);
        Assert.Equal("RCPT deferred: 450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.org.html", deferrals[0].Title);
        Assert.Equal("C: RCPT TO:<bob@example.org>", deferrals[0].Evidence[0].Text);
        Assert.Equal("message content deferred: 451 4.3.0 Error: queue file write error", deferrals[1].Title);
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.BlocklistRejection);
    }

    [Fact]
    public void PipelinedReplies_AreMatchedToTheirCommands()
    {
        var findings = Run("""
            S: 220 mx.example.org ESMTP Postfix
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250-PIPELINING
            S: 250 STARTTLS
            C: MAIL FROM:<alice@example.com>
            C: RCPT TO:<bob@example.org>
            C: RCPT TO:<carol@example.org>
            C: DATA
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 450 4.7.1 <carol@example.org>: Recipient address rejected: try again later
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: x
            C:
            C: body
            C: .
            S: 250 2.0.0 Ok: queued as ABC
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var deferral = Assert.Single(findings, f => f.Code == FindingCodes.UpstreamDeferral);
        Assert.Equal("C: RCPT TO:<carol@example.org>", deferral.Evidence[0].Text);
    }

    [Fact]
    public void MixedCodesInOneReply_IsReplyCodeInconsistent()
    {
        var findings = Run("""
            S: 220 mx.example.org ESMTP
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 220-PIPELINING
            S: 250 STARTTLS
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var mixed = Assert.Single(findings, f => f.Code == FindingCodes.ReplyCodeInconsistent);
        Assert.Equal("a multi-line reply to EHLO mixes codes 250/220", mixed.Title);
        Assert.Equal(4, mixed.Evidence.Count);
    }

    [Fact]
    public void BareLfDotInContent_IsSmtpSmuggling()
    {
        var findings = Run("""
            S: 220 mx.example.org ESMTP Postfix
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 STARTTLS
            C: MAIL FROM:<alice@example.com>
            S: 250 2.1.0 Ok
            C: RCPT TO:<bob@example.org>
            S: 250 2.1.5 Ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C> Subject: first\r\n\r\nbody\n.\nMAIL FROM:<admin@example.org>\r\n.\r\n
            S: 250 2.0.0 Ok: queued as ABC
            C: QUIT
            S: 221 Bye
            S! close
            C! close
            """);

        var smuggling = Assert.Single(findings, f => f.Code == FindingCodes.SmtpSmuggling);
        Assert.Equal(FindingLeg.Client, smuggling.Leg);
        Assert.Contains("<LF>.<LF>", smuggling.Title, StringComparison.Ordinal);
        Assert.Equal([EventKinds.Message, EventKinds.Anomaly], smuggling.Evidence.Select(e => e.Kind));
    }

    [Fact]
    public void DotStuffedContent_IsNotSmtpSmuggling() =>
        Assert.DoesNotContain(Run(HealthyDialogueFindingTests.Text("postfix-esmtp")), f => f.Code == FindingCodes.SmtpSmuggling);
}
