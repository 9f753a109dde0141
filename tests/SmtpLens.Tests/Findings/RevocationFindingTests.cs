using SmtpLens.Findings;
using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Findings;

/// <summary>CERT_REVOKED, CERT_REVOCATION_UNREACHABLE and CERT_REVOCATION_STALE from recorded <c>revocation</c> events,
/// including results recorded after the session ended (the check runs off the relay path).</summary>
public sealed class RevocationFindingTests
{
    private static readonly DateTimeOffset Now = SessionEvents.Start.AddSeconds(1);

    private static CertificateRevocation Check(params RevocationSourceResult[] sources) =>
        new("upstream", 0, "CN=mx.example.org", "CN=Example CA", "1A2B", sources);

    private static RevocationSourceResult Crl(RevocationStatus status = RevocationStatus.Good, bool reachable = true, string? failure = null, DateTimeOffset? nextUpdate = null) =>
        new(RevocationSourceKind.Crl, "http://crl.example.org/ca.crl", reachable, failure, reachable ? status : RevocationStatus.Unknown, Now,
            reachable ? Now.AddHours(-3) : null, reachable ? nextUpdate ?? Now.AddDays(7) : null, status == RevocationStatus.Revoked ? Now.AddDays(-1) : null, status == RevocationStatus.Revoked ? "keyCompromise" : null, reachable ? true : null);

    /// <summary>A healthy STARTTLS session, then the check's result after the disconnect, as a late CRL answer is recorded.</summary>
    private static SessionEvents AfterTheSession(CertificateRevocation check) =>
        new SessionEvents()
            .Smtp(HealthyDialogues.PostfixBeforeTls)
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: SessionEvents.Certificate("mx.example.org", ["mx.example.org"])))
            .Disconnect()
            .Event(Direction.Proxy, CertificateRevocation.EventKind, "revocation " + check.Describe(), check.ToData());

    [Fact]
    public void UnreachableCrl_IsAnError_Seed003()
    {
        var events = AfterTheSession(Check(Crl(reachable: false, failure: "connection refused")));

        var finding = Assert.Single(events.Findings, f => f.Code == FindingCodes.CertRevocationUnreachable);
        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.Equal(FindingLeg.Upstream, finding.Leg);
        Assert.Equal("upstream certificate [0] CN=mx.example.org: CRL http://crl.example.org/ca.crl unreachable: connection refused; no source gave a status", finding.Title);
        Assert.Equal(events.Events[^1].Seq, Assert.Single(finding.Evidence).Seq);
        Assert.DoesNotContain(events.Findings, f => f.Code is FindingCodes.CertRevoked or FindingCodes.CertRevocationStale);
    }

    [Fact]
    public void UnreachableOcsp_WithAGoodCrl_IsAWarning()
    {
        var ocsp = new RevocationSourceResult(RevocationSourceKind.Ocsp, "http://ocsp.example.org", false, "no answer within 5 s (timeout)", RevocationStatus.Unknown, Now);

        var finding = Assert.Single(AfterTheSession(Check(Crl(), ocsp)).Findings, f => f.Code == FindingCodes.CertRevocationUnreachable);

        Assert.Equal(FindingSeverity.Warning, finding.Severity);
        Assert.EndsWith("; status good from another source", finding.Title, StringComparison.Ordinal);
    }

    [Fact]
    public void RevokedCertificate_IsCertRevoked()
    {
        var finding = Assert.Single(AfterTheSession(Check(Crl(RevocationStatus.Revoked))).Findings, f => f.Code == FindingCodes.CertRevoked);

        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.StartsWith("upstream certificate [0] CN=mx.example.org (serial 1A2B) is revoked: CRL http://crl.example.org/ca.crl: revoked at ", finding.Title, StringComparison.Ordinal);
        Assert.Contains("(keyCompromise)", finding.Title, StringComparison.Ordinal);
    }

    [Fact]
    public void CrlPastNextUpdate_IsStale_AndAGoodFreshCrlRaisesNothing()
    {
        var stale = Assert.Single(AfterTheSession(Check(Crl(nextUpdate: Now.AddHours(-1)))).Findings, f => f.Code == FindingCodes.CertRevocationStale);
        Assert.Equal(FindingSeverity.Warning, stale.Severity);
        Assert.Contains("STALE (past nextUpdate)", stale.Title, StringComparison.Ordinal);

        Assert.DoesNotContain(AfterTheSession(Check(Crl())).Findings, f => f.Code.StartsWith("CERT_REVOC", StringComparison.Ordinal) || f.Code == FindingCodes.CertRevoked);
    }

    [Fact]
    public void LiveEngine_TakesARevocationEventAfterTheDisconnect_AndNothingElse()
    {
        var events = AfterTheSession(Check(Crl(reachable: false, failure: "connection refused"))).Events;
        var engine = new FindingEngine();
        foreach (var e in events.Take(events.Count - 1))
        {
            engine.Observe(e);
        }

        Assert.True(engine.Completed);
        Assert.Empty(engine.Observe(new TranscriptEvent(SessionEvents.SessionId, 999, Now, Direction.Client, EventKinds.Command, "NOOP", null)));
        var late = Assert.Single(engine.Observe(events[^1]));
        Assert.Equal(FindingCodes.CertRevocationUnreachable, late.Code);
        Assert.Equal(FindingEngine.Analyze(events).Select(f => f.Signature), engine.Findings.Select(f => f.Signature));
    }
}
