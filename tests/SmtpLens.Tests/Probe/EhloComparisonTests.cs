using SmtpLens.Findings;
using SmtpLens.Probe;
using SmtpLens.Protocol;

namespace SmtpLens.Tests.Probe;

/// <summary>Keywords before and inside TLS on one connection, and EHLO_KEYWORD_ONLY_IN_TLS.</summary>
public sealed class EhloComparisonTests
{
    private static readonly string[] PostfixKeywords = ["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"];
    private static readonly string[] PostfixKeywordsInTls = ["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"];

    [Fact]
    public void Compare_Treats_StartTls_Leaving_And_Auth_Arriving_As_Expected()
    {
        var changes = EhloComparison.Compare(Reply(PostfixKeywords), Reply(PostfixKeywordsInTls));
        Assert.Equal(["STARTTLS"], changes.OnlyBefore.Select(k => k.Keyword));
        Assert.Equal(["AUTH"], changes.OnlyInTls.Select(k => k.Keyword));
        Assert.Empty(changes.HiddenFromPlaintext);
        Assert.Empty(changes.ParametersChanged);
    }

    [Fact]
    public void Compare_Flags_A_Keyword_Hidden_From_Plaintext_And_Changed_Parameters()
    {
        var changes = EhloComparison.Compare(Reply("PIPELINING", "SIZE 1000", "XXXXXXXX", "STARTTLS"), Reply("PIPELINING", "SIZE 2000", "CHUNKING"));
        Assert.Equal(["CHUNKING"], changes.HiddenFromPlaintext.Select(k => k.Keyword));
        var changed = Assert.Single(changes.ParametersChanged);
        Assert.Equal(("1000", "2000"), (changed.Before.Parameters, changed.InTls.Parameters));
    }

    [Fact]
    public void Detector_Raises_Only_In_Tls_With_The_Masked_Token_Named()
    {
        var events = new ProbeEvents()
            .Server("220 mx.example.test ESMTP")
            .Ehlo("mx.example.test", "PIPELINING", "XXXXXXXX", "STARTTLS")
            .Client("STARTTLS").Server("220 2.0.0 Ready to start TLS")
            .Tls(ProbeEvents.Certificate("mx.example.test", "mx.example.test"))
            .Ehlo("mx.example.test", "PIPELINING", "CHUNKING", "AUTH PLAIN")
            .Client("QUIT").Server("221 2.0.0 Bye").Disconnect();
        var finding = Assert.Single(FindingEngine.Analyze(events.Events), f => f.Code == FindingCodes.EhloKeywordOnlyInTls);
        Assert.Equal(FindingSeverity.Warning, finding.Severity);
        Assert.Equal("CHUNKING (masked as XXXXXXXX there) is offered inside TLS but not in the plaintext EHLO reply", finding.Title);
        Assert.Equal(2, finding.Evidence.Count);
        Assert.Contains(finding.Causes, c => c.Contains("inspect esmtp", StringComparison.Ordinal));
    }

    [Fact]
    public void Detector_Is_Silent_For_A_Healthy_Postfix_With_Auth_Only_Over_Tls()
    {
        var events = new ProbeEvents()
            .Server("220 mx.example.test ESMTP Postfix")
            .Ehlo("mx.example.test", PostfixKeywords)
            .Client("STARTTLS").Server("220 2.0.0 Ready to start TLS")
            .Tls(ProbeEvents.Certificate("mx.example.test", "mx.example.test"))
            .Ehlo("mx.example.test", PostfixKeywordsInTls)
            .Client("QUIT").Server("221 2.0.0 Bye").Disconnect();
        var findings = FindingEngine.Analyze(events.Events);
        Assert.DoesNotContain(findings, f => f.Code == FindingCodes.EhloKeywordOnlyInTls);
        Assert.DoesNotContain(findings, f => f.Severity >= FindingSeverity.Warning && f.Code != FindingCodes.CertUntrusted);
    }

    private static EhloReply Reply(params string[] keywords)
    {
        var raw = new List<string> { "250-mx.example.test" };
        raw.AddRange(keywords.Select((k, i) => (i == keywords.Length - 1 ? "250 " : "250-") + k));
        var lines = raw.Select(r => { Assert.True(ReplyLine.TryParse(System.Text.Encoding.ASCII.GetBytes(r), out var l)); return l; }).ToList();
        return EhloReply.From(new SmtpReply(lines, raw))!;
    }
}
