using SmtpLens.Findings;
using SmtpLens.Policy;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Policy;

/// <summary>TLS_POLICY_WOULD_FAIL comes from the tls-policy events: only for the sender's own policies, only on fail.</summary>
public sealed class TlsPolicyDetectorTests
{
    private static TranscriptEvent Event(long seq, PolicyVerdict verdict) =>
        new("s1", seq, DateTimeOffset.UnixEpoch.AddSeconds(seq), Direction.Proxy, PolicyVerdict.EventKind, verdict.Line(), verdict.ToData());

    [Fact]
    public void Raised_Only_For_A_Failing_Sender_Policy()
    {
        var facts = new Dictionary<string, object?> { ["mxHost"] = "mx.example.test", ["resultType"] = "certificate-expired" };
        var events = new[]
        {
            Event(1, new PolicyVerdict(PolicyIds.PostfixVerify, Verdict.Fail, "Server certificate not verified (certificate has expired)", facts) { Sender = true }),
            Event(2, new PolicyVerdict(PolicyIds.PostfixSecure, Verdict.Fail, "Server certificate not verified (certificate has expired)", facts)),
            Event(3, new PolicyVerdict(PolicyIds.PostfixMay, Verdict.Pass, "Untrusted TLS connection established", facts) { Sender = true }),
        };

        var finding = Assert.Single(FindingEngine.Analyze(events));
        Assert.Equal(FindingCodes.TlsPolicyWouldFail, finding.Code);
        Assert.Equal(FindingSeverity.Error, finding.Severity);
        Assert.Equal("the sender's policy postfix:verify would refuse this upstream: Server certificate not verified (certificate has expired)", finding.Title);
        Assert.Equal("certificate-expired", finding.Facts["resultType"]);
        Assert.Equal(1, Assert.Single(finding.Evidence).Seq);
    }
}
