using Org.BouncyCastle.Tls;
using SmtpLens.Findings;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Findings;

/// <summary>Positive and negative cases for the detectors that read TLS handshake records.</summary>
public sealed class TlsFindingTests
{
    private static readonly TlsPolicy Rc4Only = new()
    {
        CipherSuites = [CipherSuite.TLS_RSA_WITH_RC4_128_SHA],
        MinimumVersion = 0x0301,
        MaximumVersion = 0x0301,
    };

    private static readonly CertificateSummary GoodCertificate = SessionEvents.Certificate("mx.example.org", ["mx.example.org"]);

    private static SessionEvents StartTls() => new SessionEvents().Smtp(HealthyDialogues.PostfixBeforeTls);

    [Fact]
    public void Seed002_Tls10Rc4NegotiatedThenUpstreamCloses_IsDroppedAfterHandshake_Legacy_AndWeak()
    {
        var hello = SessionEvents.Hello(Rc4Only);
        var findings = StartTls()
            .Intercepted(
                SessionEvents.CompletedLeg("upstream", 0x0301, CipherSuite.TLS_RSA_WITH_RC4_128_SHA, GoodCertificate, nameChecked: "mx.example.org"),
                SessionEvents.CompletedLeg("client", 0x0301, CipherSuite.TLS_RSA_WITH_RC4_128_SHA, hello: hello))
            .Disconnect("UpstreamClosed")
            .Findings;

        var dropped = Assert.Single(findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake);
        Assert.Equal(FindingSeverity.Error, dropped.Severity);
        Assert.Equal(FindingLeg.Upstream, dropped.Leg);
        Assert.Equal("TLS (TLSv1.0 TLS_RSA_WITH_RC4_128_SHA) was negotiated, then the upstream closed the connection (UpstreamClosed) before any SMTP reply", dropped.Title);
        Assert.Contains(dropped.Causes, c => c.Contains("Windows 2003", StringComparison.Ordinal));

        Assert.Contains(findings, f => f.Code == FindingCodes.TlsLegacyProtocol && f.Title == "TLSv1.0 negotiated on the upstream leg");
        Assert.Contains(findings, f => f.Code == FindingCodes.TlsLegacyProtocol && f.Title == "the client offered at most TLSv1.0");
        Assert.Contains(findings, f => f.Code == FindingCodes.TlsWeakCipher && f.Title == "weak cipher negotiated on the upstream leg: TLS_RSA_WITH_RC4_128_SHA (RC4)");
        Assert.Contains(findings, f => f.Code == FindingCodes.TlsWeakCipher && f.Title.StartsWith("the client offered only weak cipher suites (1: TLS_RSA_WITH_RC4_128_SHA)", StringComparison.Ordinal));
    }

    [Fact]
    public void HandshakeThenSmtpReplies_IsNotDroppedAfterHandshake()
    {
        var findings = HealthyDialogues.Tls(HealthyDialogues.PostfixBeforeTls, HealthyDialogues.PostfixInsideTls, "mx.example.org", ["mx.example.org"]).Findings;

        Assert.DoesNotContain(findings, f => f.Code is FindingCodes.TlsDroppedAfterHandshake or FindingCodes.TlsLegacyProtocol or FindingCodes.TlsWeakCipher);
    }

    [Fact]
    public void ClientSendsEhloInsideTls_UpstreamNeverAnswers_IdleTimeout_BlamesUpstream()
    {
        var findings = StartTls()
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client"))
            .Smtp("C: EHLO client.example.com", afterTls: true)
            .Disconnect("IdleTimeout")
            .Findings;

        var dropped = Assert.Single(findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake);
        Assert.Equal(FindingLeg.Upstream, dropped.Leg);
        Assert.Contains("hung (IdleTimeout)", dropped.Title, StringComparison.Ordinal);
    }

    [Fact]
    public void RenegotiationRefusedBySmtpLens_SaysSmtpLensEndedTheSession_NotThatTheClientClosed()
    {
        var findings = StartTls()
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client"))
            .Event(Direction.Proxy, EventKinds.TlsAlert, "client leg: fatal unexpected_message(10) alert raised by SmtpLens after the handshake", new Dictionary<string, object?>
            {
                ["leg"] = "client",
                ["level"] = "fatal",
                ["description"] = "unexpected_message",
                ["raisedBy"] = "smtplens",
            })
            .Disconnect("ClientError")
            .Findings;

        var dropped = Assert.Single(findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake);
        Assert.Equal(FindingLeg.Client, dropped.Leg);
        Assert.Equal("TLS (TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) was negotiated, then the client attempted a renegotiation, which SmtpLens refuses: it sent a fatal unexpected_message alert and ended the session (ClientError) before any SMTP reply", dropped.Title);
        Assert.DoesNotContain("closed the connection", dropped.Title, StringComparison.Ordinal);
        Assert.Equal("smtplens", dropped.Facts["endedBy"]);
        Assert.StartsWith("The client asked to renegotiate TLS", dropped.Causes[0], StringComparison.Ordinal);
    }

    [Fact]
    public void AlertFromThePeerAfterTheHandshake_StillSaysThePeerClosed()
    {
        var findings = StartTls()
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client"))
            .Event(Direction.Proxy, EventKinds.TlsAlert, "client leg: fatal unexpected_message(10) alert raised by the client after the handshake", new Dictionary<string, object?>
            {
                ["leg"] = "client",
                ["level"] = "fatal",
                ["description"] = "unexpected_message",
                ["raisedBy"] = "peer",
            })
            .Disconnect("ClientClosed")
            .Findings;

        Assert.Contains("the client closed the connection (ClientClosed)", Assert.Single(findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake).Title, StringComparison.Ordinal);
    }

    [Fact]
    public void UpstreamHandshakeFails_IsOneHandshakeFailure_OnTheUpstreamLeg_WithTheAlert()
    {
        var upstream = new TlsLegRecord("upstream", "client") { Failure = "the peer sent a fatal handshake_failure alert" };
        upstream.AddAlert(new TlsAlertEvent(new TlsAlert(2, (byte)AlertDescription.handshake_failure), TlsSide.Peer, true, SessionEvents.Start, null));
        var client = new TlsLegRecord("client", "server") { Failure = "not completed: the upstream handshake failed; SmtpLens sent the client a fatal handshake_failure alert" };

        var findings = StartTls().Leg(upstream).Leg(client).Disconnect("TlsHandshakeFailed").Findings;

        var failed = Assert.Single(findings, f => f.Code == FindingCodes.TlsHandshakeFailed);
        Assert.Equal(FindingLeg.Upstream, failed.Leg);
        Assert.Equal("the upstream leg handshake failed: the peer sent a fatal handshake_failure alert", failed.Title);
        Assert.Equal("handshake_failure", failed.Facts["alert"]);
        Assert.Equal("peer", failed.Facts["alertRaisedBy"]);
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake);
    }

    [Fact]
    public void ClientLegFails_IsAHandshakeFailureOnTheClientLeg()
    {
        var client = new TlsLegRecord("client", "server") { Failure = "the peer sent a fatal bad_certificate alert" };

        var findings = StartTls()
            .Leg(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"))
            .Leg(client)
            .Disconnect("TlsHandshakeFailed")
            .Findings;

        var failed = Assert.Single(findings, f => f.Code == FindingCodes.TlsHandshakeFailed);
        Assert.Equal(FindingLeg.Client, failed.Leg);
    }

    [Theory]
    [InlineData("TLS_RSA_WITH_RC4_128_SHA", "RC4")]
    [InlineData("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3DES/DES")]
    [InlineData("TLS_RSA_WITH_NULL_SHA256", "NULL encryption")]
    [InlineData("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "EXPORT")]
    [InlineData("TLS_DH_anon_WITH_AES_128_CBC_SHA", "anonymous, no authentication")]
    [InlineData("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "CBC with SHA-1")]
    [InlineData("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", null)]
    [InlineData("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", null)]
    [InlineData("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", null)]
    [InlineData("TLS_AES_128_GCM_SHA256", null)]
    [InlineData("TLS_EMPTY_RENEGOTIATION_INFO_SCSV", null)]
    public void WeakReason_ClassifiesSuites(string suite, string? reason) =>
        Assert.Equal(reason, TlsParametersDetector.WeakReason(suite));

    [Fact]
    public void LegacySuitesOfferedAlongsideModernOnes_IsNotWeakOffer()
    {
        var findings = StartTls()
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client", hello: SessionEvents.Hello(TlsPolicy.Legacy)))
            .Smtp(HealthyDialogues.PostfixInsideTls, afterTls: true)
            .Disconnect()
            .Findings;

        Assert.Empty(findings);
    }

    [Fact]
    public void ExpiredCertificate_IsCertExpired_AtTheSessionsTime()
    {
        var expired = SessionEvents.Certificate("mx.example.org", ["mx.example.org"], notBefore: SessionEvents.Start.AddDays(-400), notAfter: SessionEvents.Start.AddDays(-1));

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: expired, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client")).Disconnect("ClientClosed").Findings;

        var cert = Assert.Single(findings, f => f.Code == FindingCodes.CertExpired);
        Assert.Equal(FindingSeverity.Error, cert.Severity);
        Assert.Equal("the upstream certificate CN=mx.example.org SAN=[DNS:mx.example.org] expired 2026-11-21 05:00 UTC", cert.Title);
        Assert.StartsWith("* upstream leg upstream certificate [0]", cert.Evidence[0].Text, StringComparison.Ordinal);
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.CertNotYetValid);
    }

    [Fact]
    public void FutureCertificate_IsCertNotYetValid()
    {
        var future = SessionEvents.Certificate("mx.example.org", ["mx.example.org"], notBefore: SessionEvents.Start.AddDays(2), notAfter: SessionEvents.Start.AddDays(90));

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: future, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client")).Disconnect().Findings;

        Assert.Single(findings, f => f.Code == FindingCodes.CertNotYetValid);
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.CertExpired);
    }

    [Fact]
    public void SelfSignedCertificate_IsCertUntrusted_SayingSelfSigned()
    {
        var selfSigned = SessionEvents.Certificate("mx.example.org", ["mx.example.org"], issuer: "CN=mx.example.org");

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: selfSigned, trusted: false, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client")).Disconnect().Findings;

        var untrusted = Assert.Single(findings, f => f.Code == FindingCodes.CertUntrusted);
        Assert.Equal(FindingSeverity.Warning, untrusted.Severity);
        Assert.Contains("self-signed", untrusted.Title, StringComparison.Ordinal);
        Assert.Contains(untrusted.Evidence, e => e.Text.Contains("NOT trusted", StringComparison.Ordinal));
    }

    [Fact]
    public void CertificateForAnotherName_IsCertNameMismatch_ForTheHost_AndEhloNameNotInCertificate_ForBannerAndEhloReply()
    {
        var other = SessionEvents.Certificate("other.example.net", ["other.example.net"]);

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: other, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client")).Disconnect().Findings;

        var mismatch = Assert.Single(findings, f => f.Code == FindingCodes.CertNameMismatch);
        Assert.Equal("the upstream certificate (CN=other.example.net SAN=[DNS:other.example.net]) does not cover mx.example.org (host name used)", mismatch.Title);
        var ehlo = Assert.Single(findings, f => f.Code == FindingCodes.EhloNameNotInCertificate);
        Assert.Equal(FindingLeg.Upstream, ehlo.Leg);
        Assert.Equal(FindingSeverity.Warning, ehlo.Severity);
        Assert.Equal("the upstream calls itself mx.example.org (banner, EHLO reply), but its certificate (CN=other.example.net SAN=[DNS:other.example.net]) names only other.example.net; Exchange 2013 and later and Exchange Online require the name to match", ehlo.Title);
        Assert.Equal(new[] { "other.example.net" }, (IEnumerable<string>)ehlo.Facts["certificateNames"]!);
        Assert.Equal(new[] { "Exchange 2013 and later", "Exchange Online" }, (IEnumerable<string>)ehlo.Facts["enforcedBy"]!);
        Assert.Contains(ehlo.Evidence, e => e.Text.Contains("220 mx.example.org", StringComparison.Ordinal));
    }

    [Fact]
    public void UpstreamEhloNameCoveredByOneLevelWildcard_IsNoEhloFinding_ButTwoLevelsDeepIs()
    {
        var wildcard = SessionEvents.Certificate("*.example.org", ["*.example.org"]);
        var covered = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: wildcard, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client")).Disconnect().Findings;
        Assert.DoesNotContain(covered, f => f.Code == FindingCodes.EhloNameNotInCertificate);

        var deeper = new SessionEvents()
            .Smtp(HealthyDialogues.PostfixBeforeTls.Replace("mx.example.org", "a.mx.example.org", StringComparison.Ordinal))
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: wildcard), SessionEvents.CompletedLeg("client"))
            .Disconnect()
            .Findings;
        var finding = Assert.Single(deeper, f => f.Code == FindingCodes.EhloNameNotInCertificate);
        Assert.Contains("a.mx.example.org (banner, EHLO reply)", finding.Title, StringComparison.Ordinal);
    }

    [Fact]
    public void SenderEhloNameNotInItsClientCertificate_IsEhloNameNotInCertificate_OnTheClientLeg()
    {
        var client = SessionEvents.CompletedLeg("client");
        client.ClientCertificates.Add(SessionEvents.Certificate("smtpo365.varunagroup.de", ["smtpo365.varunagroup.de"]));

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), client).Disconnect().Findings;

        var finding = Assert.Single(findings, f => f.Code == FindingCodes.EhloNameNotInCertificate);
        Assert.Equal(FindingLeg.Client, finding.Leg);
        Assert.Equal("the sender calls itself client.example.com (EHLO), but its client certificate (CN=smtpo365.varunagroup.de SAN=[DNS:smtpo365.varunagroup.de]) names only smtpo365.varunagroup.de; Exchange 2013 and later and Exchange Online require the name to match", finding.Title);
        Assert.Contains(finding.Evidence, e => e.Text.EndsWith("EHLO client.example.com", StringComparison.Ordinal));
    }

    [Fact]
    public void SenderEhloNameInItsClientCertificate_IsNoFinding()
    {
        var client = SessionEvents.CompletedLeg("client");
        client.ClientCertificates.Add(SessionEvents.Certificate("client.example.com", ["client.example.com"]));

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), client).Disconnect().Findings;

        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.EhloNameNotInCertificate);
    }

    [Fact]
    public void ProbeByMx_CertificateNotCoveringTheMxName_IsCertNameMismatch_NamingTheMxHost()
    {
        var certificate = SessionEvents.Certificate("mx.example.org", ["mx.example.org"]);

        var findings = new SessionEvents()
            .Event(Direction.Proxy, EventKinds.UpstreamConnect, "probe connected to 192.0.2.25:25 (192.0.2.25)", new Dictionary<string, object?> { ["mx"] = "mail.example.com" })
            .Smtp(HealthyDialogues.PostfixBeforeTls)
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: certificate))
            .Disconnect()
            .Findings;

        var mismatch = Assert.Single(findings, f => f.Code == FindingCodes.CertNameMismatch);
        Assert.Equal("the upstream certificate (CN=mx.example.org SAN=[DNS:mx.example.org]) does not cover mail.example.com (MX host name)", mismatch.Title);
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.EhloNameNotInCertificate);
    }

    [Fact]
    public void WildcardCertificate_CoversTheName_IsOnlyTheWildcardInfo_ExplainingConnectorMatching()
    {
        var wildcard = SessionEvents.Certificate("*.example.org", ["*.example.org"]);

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: wildcard, nameChecked: "mx.example.org"), SessionEvents.CompletedLeg("client")).Smtp(HealthyDialogues.PostfixInsideTls, afterTls: true).Disconnect().Findings;

        var only = Assert.Single(findings);
        Assert.Equal(FindingCodes.CertWildcard, only.Code);
        Assert.Equal(FindingSeverity.Info, only.Severity);
        Assert.Equal("the upstream certificate has a wildcard name: *.example.org", only.Title);
        Assert.Contains("TlsSenderCertificateName", only.NextStep, StringComparison.Ordinal);
        Assert.Contains("more senders than intended", only.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void WildcardOneLevelOnly_DoesNotCoverDeeperNames()
    {
        Assert.True(CertificateDetector.Covers(["*.example.org"], "mx.example.org"));
        Assert.False(CertificateDetector.Covers(["*.example.org"], "a.mx.example.org"));
        Assert.False(CertificateDetector.Covers(["*.example.org"], "example.org"));
        Assert.True(CertificateDetector.Covers(["MX.Example.org"], "mx.example.org."));
    }

    [Fact]
    public void SendersClientCertificate_WithWildcard_IsCertWildcardOnTheClientLeg()
    {
        var client = SessionEvents.CompletedLeg("client");
        client.ClientCertificates.Add(SessionEvents.Certificate("*.varunagroup.de", ["*.varunagroup.de"]));

        // The sender's EHLO name is one its wildcard covers, so the wildcard is the only finding.
        var findings = new SessionEvents().Smtp(HealthyDialogues.PostfixBeforeTls.Replace("EHLO client.example.com", "EHLO mx01.varunagroup.de", StringComparison.Ordinal)).Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), client).Smtp(HealthyDialogues.PostfixInsideTls, afterTls: true).Disconnect().Findings;

        var wildcard = Assert.Single(findings);
        Assert.Equal(FindingCodes.CertWildcard, wildcard.Code);
        Assert.Equal(FindingLeg.Client, wildcard.Leg);
        Assert.Equal("the client certificate has a wildcard name: *.varunagroup.de", wildcard.Title);
    }

    [Fact]
    public void ForgedClientLegCertificate_IsNeverJudged()
    {
        var client = SessionEvents.CompletedLeg("client", certificate: SessionEvents.Certificate("*.forged.test", ["*.forged.test"], notAfter: SessionEvents.Start.AddDays(-1)));

        var findings = StartTls().Intercepted(SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org"), client).Smtp(HealthyDialogues.PostfixInsideTls, afterTls: true).Disconnect().Findings;

        Assert.Empty(findings);
    }

    [Fact]
    public void PassthroughLeg_CertificateAndChoiceAreTheUpstreams()
    {
        var passthrough = SessionEvents.CompletedLeg("passthrough", 0x0302, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, SessionEvents.Certificate("mx.example.org", ["mx.example.org"], notAfter: SessionEvents.Start.AddDays(-3)), trusted: null);

        var findings = StartTls().Leg(passthrough, "upstream certificate").Disconnect("ClientClosed").Findings;

        Assert.Contains(findings, f => f.Code == FindingCodes.CertExpired && f.Leg == FindingLeg.Upstream);
        Assert.Contains(findings, f => f.Code == FindingCodes.TlsLegacyProtocol && f.Title == "TLSv1.1 negotiated on the passthrough leg");
        Assert.Contains(findings, f => f.Code == FindingCodes.TlsWeakCipher && f.Title.Contains("CBC with SHA-1", StringComparison.Ordinal));

        // Passthrough cannot see SMTP inside TLS, so a quiet session is not a drop.
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake);
    }

    private static readonly TlsPolicy UpTo12 = TlsPolicy.Default.CappedAt(0x0303);

    [Fact]
    public void SenderOffered13_SmtpLensOffered13_UpstreamChose12_IsVersionCappedUpstream_Info()
    {
        var findings = StartTls()
            .Intercepted(
                SessionEvents.CompletedLeg("upstream", 0x0303, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, GoodCertificate, nameChecked: "mx.example.org", hello: SessionEvents.Hello(TlsPolicy.Default)),
                SessionEvents.CompletedLeg("client", 0x0303, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, hello: SessionEvents.Hello(TlsPolicy.Default)))
            .Smtp(HealthyDialogues.PostfixInsideTls, afterTls: true)
            .Disconnect()
            .Findings;

        var capped = Assert.Single(findings, f => f.Code == FindingCodes.TlsVersionCappedUpstream);
        Assert.Equal(FindingSeverity.Info, capped.Severity);
        Assert.Equal(FindingLeg.Upstream, capped.Leg);
        Assert.Equal("the sender offered TLSv1.3 and SmtpLens offered it upstream, but the upstream chose TLSv1.2", capped.Title);
        Assert.Equal("TLSv1.2", capped.Facts["chosen"]);
        Assert.Equal(2, capped.Evidence.Count);
    }

    [Fact]
    public void UpstreamChose13_IsNotVersionCapped()
    {
        var findings = HealthyDialogues.Tls(HealthyDialogues.PostfixBeforeTls, HealthyDialogues.PostfixInsideTls, "mx.example.org", ["mx.example.org"]).Findings;

        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.TlsVersionCappedUpstream);
    }

    [Fact]
    public void SenderOfferedAtMost12_UpstreamChose12_IsNotVersionCapped()
    {
        var findings = StartTls()
            .Intercepted(
                SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org", hello: SessionEvents.Hello(UpTo12)),
                SessionEvents.CompletedLeg("client", hello: SessionEvents.Hello(UpTo12)))
            .Disconnect()
            .Findings;

        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.TlsVersionCappedUpstream);
    }

    [Fact]
    public void SmtpLensItselfCappedTheUpstreamOffer_IsNotBlamedOnTheUpstream()
    {
        // --tls-max-version 1.2: the sender offered 1.3 but SmtpLens offered the upstream only 1.2.
        var findings = StartTls()
            .Intercepted(
                SessionEvents.CompletedLeg("upstream", certificate: GoodCertificate, nameChecked: "mx.example.org", hello: SessionEvents.Hello(UpTo12)),
                SessionEvents.CompletedLeg("client", hello: SessionEvents.Hello(TlsPolicy.Default)))
            .Disconnect()
            .Findings;

        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.TlsVersionCappedUpstream);
    }

    [Fact]
    public void Passthrough_SenderOffered13_ServerChose12_IsVersionCapped()
    {
        var leg = SessionEvents.CompletedLeg("passthrough", 0x0303, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, hello: SessionEvents.Hello(TlsPolicy.Default));
        var findings = StartTls().Leg(leg).Disconnect().Findings;

        var capped = Assert.Single(findings, f => f.Code == FindingCodes.TlsVersionCappedUpstream);
        Assert.Equal("the sender offered TLSv1.3, but the upstream chose TLSv1.2", capped.Title);
    }
}
