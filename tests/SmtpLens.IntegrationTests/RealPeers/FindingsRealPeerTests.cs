using System.Net;
using System.Runtime.Versioning;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Relay;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>Findings from real Postfix smtpd configurations, with swaks as the sender, through the live proxy.</summary>
[SupportedOSPlatform("linux")]
public sealed class FindingsRealPeerTests
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PostfixEncrypt_SwaksWithoutTls_IsTlsRequiredNotStarted_BlamingTheSender()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            Name = "encrypt",
            SelfSignedTls = true,
            MainCf = new Dictionary<string, string> { ["smtpd_tls_security_level"] = "encrypt" },
        });
        await using var proxy = await RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, postfix.Port));

        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions { From = "alice@client.test", To = ["bob@example.test"], Message = PeerMessages.Sample("no TLS") });

        Assert.False(swaks.Succeeded, swaks.ToString());
        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        var required = Assert.Single(summary.Findings, f => f.Code == FindingCodes.TlsRequiredNotStarted);
        Assert.Equal(FindingSeverity.Error, required.Severity);
        Assert.Contains("530 5.7.0 Must issue a STARTTLS command first", required.Title, StringComparison.Ordinal);
        Assert.StartsWith("STARTTLS was offered in this session and the client did not use it", required.Causes[0], StringComparison.Ordinal);
        AssertAnalyzeAgrees(proxy, summary);
    }

    [Fact]
    public async Task PostfixDiscardingStartTls_SwaksRequiringTls_GivesUp_IsStartTlsNotOfferedWarning()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            Name = "discard",
            SelfSignedTls = true,
            MainCf = new Dictionary<string, string> { ["smtpd_discard_ehlo_keywords"] = "starttls" },
        });
        await using var proxy = await RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, postfix.Port));

        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions { From = "alice@client.test", To = ["bob@example.test"], Message = PeerMessages.Sample("TLS or nothing"), Tls = SwaksTls.StartTls });

        Assert.False(swaks.Succeeded, swaks.ToString());
        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        var notOffered = Assert.Single(summary.Findings);
        Assert.Equal(FindingCodes.StartTlsNotOffered, notOffered.Code);
        Assert.Equal(FindingSeverity.Warning, notOffered.Severity);
        Assert.Contains("without sending mail", notOffered.Title, StringComparison.Ordinal);
        AssertAnalyzeAgrees(proxy, summary);
    }

    [Fact]
    public async Task PostfixDiscardingStartTls_SwaksPlaintext_Delivers_AndTheFindingIsOnlyInfo()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            Name = "discard",
            SelfSignedTls = true,
            MainCf = new Dictionary<string, string> { ["smtpd_discard_ehlo_keywords"] = "starttls" },
        });
        await using var proxy = await RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, postfix.Port));

        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions { From = "alice@client.test", To = ["bob@example.test"], Message = PeerMessages.Sample("plaintext is fine here") });

        Assert.True(swaks.Succeeded, swaks.ToString());
        Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        var notOffered = Assert.Single(summary.Findings);
        Assert.Equal(FindingCodes.StartTlsNotOffered, notOffered.Code);
        Assert.Equal(FindingSeverity.Info, notOffered.Severity);
        AssertAnalyzeAgrees(proxy, summary);
    }

    private static void AssertAnalyzeAgrees(RelayFixture proxy, SessionSummary summary)
    {
        var saved = FindingEngine.Analyze(JsonLinesTranscriptReader.Read(Path.Combine(proxy.TranscriptDirectory, summary.SessionId + ".jsonl")));
        Assert.Equal(summary.Findings.Select(f => f.Signature), saved.Select(f => f.Signature));
    }
}
