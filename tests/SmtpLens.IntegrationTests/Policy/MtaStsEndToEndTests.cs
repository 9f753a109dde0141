using System.Net;
using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Lab;
using SmtpLens.Net;
using SmtpLens.Policy;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;
using SmtpLens.Transcripts;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.Policy;

/// <summary>MTA-STS through the real relay: a loopback DNS with the _mta-sts TXT record, a loopback HTTPS server holding
/// a policy made at run time (certificate from a run-time CA for mta-sts.example.test), and an intercepted STARTTLS
/// session to an upstream whose certificate names mx.example.test. No request leaves loopback.</summary>
public sealed class MtaStsEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private const string Domain = "example.test";
    private const string MxHost = "mx.example.test";
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private sealed record Run(JsonElement Verdict, IReadOnlyList<Finding> Findings, PolicyLookups Lookups, PolicyHttpsServer Https, IReadOnlyList<string> SummaryLines);

    private async Task<IReadOnlyList<Run>> RelayAsync(string status, string policy, int sessions = 1, string[]? senderPolicies = null, Action<PolicyHttpsServer>? server = null, TimeSpan pause = default)
    {
        using var dns = LoopbackDns.Start().AddTxt("_mta-sts." + Domain, "v=STSv1; id=20261207T080000").AddAddress(MxHost, IPAddress.Loopback);
        await using var https = new PolicyHttpsServer(_pki.UpstreamCertificate("mta-sts." + Domain)) { Status = status, Body = policy };
        server?.Invoke(https);
        var settings = new PolicySettings
        {
            Anchors = [_pki.UpstreamCa.Certificate],
            AnchorsText = "test CA",
            MxHost = MxHost,
            NextHop = Domain,
            Lookups = true,
            SenderPolicies = senderPolicies ?? [],
            LookupSettings = new PolicyLookupSettings
            {
                Resolver = dns.EndPoint,
                MtaStsAnchors = [_pki.UpstreamCa.Certificate],
                MtaStsConnect = new HostPort("127.0.0.1", https.Port),
                Timeout = TimeSpan.FromSeconds(10),
            },
        };
        var lookups = new PolicyLookups(settings.LookupSettings, TimeProvider.System);
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate(MxHost) },
            null,
            tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa },
            session: c => c with { Policies = settings, PolicyLookups = lookups });

        var runs = new List<Run>();
        for (var i = 0; i < sessions; i++)
        {
            if (i > 0)
            {
                await Task.Delay(pause);
            }

            var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("mta-sts\r\n")], new LabClientOptions { StartTls = true, TlsServerName = MxHost }, CancellationToken.None);
            Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail + result.Error);
            var summary = (await f.WaitForSessionsAsync(i + 1)).OrderBy(s => s.SessionId, StringComparer.Ordinal).Last();
            var events = f.ReadTranscript(summary.SessionId, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var policies = events.Where(e => e.GetProperty("kind").GetString() == EventKinds.TlsPolicy).Select(e => e.GetProperty("data")).ToList();
            Assert.Equal(PolicyIds.Fixed.Count, policies.Count);
            var verdict = policies.Single(p => p.GetProperty("policy").GetString() == PolicyIds.MtaSts);
            output.WriteLine(events.Single(e => e.GetProperty("kind").GetString() == EventKinds.TlsPolicy && e.GetProperty("data").GetProperty("policy").GetString() == PolicyIds.MtaSts).GetProperty("text").GetString());
            runs.Add(new Run(verdict.Clone(), summary.Findings, lookups, https, summary.ToLines()));
        }

        // The resolver was asked for the TXT record with DO set; the policy host was asked by its own name, on loopback.
        Assert.Contains(dns.Questions, q => q.Name == "_mta-sts." + Domain && q.Type == LoopbackDns.Txt && q.DnssecOk);
        Assert.All(https.Requests, r => Assert.Equal(("mta-sts." + Domain, "/.well-known/mta-sts.txt"), (r.Host, r.Path)));
        return runs;
    }

    private static string Text(JsonElement e, string key) => e.GetProperty(key).GetString()!;

    [Fact]
    public async Task Enforce_With_A_Matching_Mx_Passes_And_The_Policy_Is_Fetched_Once_For_Two_Sessions()
    {
        var runs = await RelayAsync("200 OK", "version: STSv1\r\nmode: enforce\r\nmx: *.example.test\r\nmax_age: 86400\r\n", sessions: 2);
        Assert.Equal("pass", Text(runs[0].Verdict, "verdict"));
        Assert.Equal("enforce", Text(runs[0].Verdict, "mode"));
        Assert.Contains("matches the policy", Text(runs[0].Verdict, "reason"), StringComparison.Ordinal);
        Assert.False(runs[0].Verdict.GetProperty("fromCache").GetBoolean());
        Assert.True(runs[1].Verdict.GetProperty("fromCache").GetBoolean());
        Assert.Equal(1, runs[1].Lookups.Fetches);
        Assert.Contains(runs[0].SummaryLines, l => l.StartsWith("policy mta-sts: PASS: mode enforce", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Enforce_With_An_Mx_Mismatch_Fails_And_Raises_The_Finding_For_The_Senders_Policy()
    {
        var run = (await RelayAsync("200 OK", "version: STSv1\nmode: enforce\nmx: mail.example.test\nmax_age: 86400\n", senderPolicies: [PolicyIds.MtaSts])).Single();
        Assert.Equal("fail", Text(run.Verdict, "verdict"));
        Assert.Contains("mx.example.test matches none of the policy's mx patterns (mail.example.test)", Text(run.Verdict, "reason"), StringComparison.Ordinal);
        var finding = Assert.Single(run.Findings, f => f.Code == FindingCodes.TlsPolicyWouldFail);
        Assert.Contains("mta-sts", finding.Title, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Testing_Mode_Delivers_And_Reports_What_Enforce_Would_Refuse()
    {
        var run = (await RelayAsync("200 OK", "version: STSv1\nmode: testing\nmx: mail.example.test\nmax_age: 600\n", senderPolicies: [PolicyIds.MtaSts])).Single();
        Assert.Equal("pass", Text(run.Verdict, "verdict"));
        Assert.True(run.Verdict.GetProperty("wouldFailUnderEnforce").GetBoolean());
        Assert.DoesNotContain(run.Findings, f => f.Code == FindingCodes.TlsPolicyWouldFail);
    }

    [Fact]
    public async Task Mode_None_Enforces_Nothing()
    {
        var run = (await RelayAsync("200 OK", "version: STSv1\nmode: none\nmax_age: 600\n")).Single();
        Assert.Equal("not-applicable", Text(run.Verdict, "verdict"));
        Assert.Contains("mode none", Text(run.Verdict, "reason"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("200 OK", "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 31557601\n", "sts-policy-invalid", "max_age 31557601")]
    [InlineData("200 OK", "version: STSv2\nmode: enforce\nmx: *.example.test\nmax_age: 600\n", "sts-policy-invalid", "not STSv1")]
    [InlineData("301 Moved Permanently", "", "sts-policy-fetch-error", "HTTP 301 to https://elsewhere.example.test")]
    [InlineData("404 Not Found", "", "sts-policy-fetch-error", "HTTP 404")]
    public async Task A_Bad_Policy_Or_Fetch_Means_No_Policy(string status, string policy, string resultType, string detail)
    {
        var run = (await RelayAsync(status, policy)).Single();
        Assert.Equal("not-applicable", Text(run.Verdict, "verdict"));
        Assert.Equal(resultType, Text(run.Verdict, "resultType"));
        Assert.Contains(detail, Text(run.Verdict, "reason"), StringComparison.Ordinal);
        Assert.Single(run.Https.Requests); // no redirect was followed
    }

    [Theory]
    [InlineData("text/html", "the policy is served as text/html, not text/plain")]
    [InlineData("application/octet-stream", "the policy is served as application/octet-stream, not text/plain")]
    [InlineData(null, "the policy is served without a Content-Type, not text/plain")]
    public async Task A_Policy_Not_Served_As_Text_Plain_Is_Invalid(string? contentType, string detail)
    {
        var run = (await RelayAsync("200 OK", "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 600\n", server: h => h.ContentType = contentType)).Single();
        Assert.Equal("not-applicable", Text(run.Verdict, "verdict"));
        Assert.Equal("sts-policy-invalid", Text(run.Verdict, "resultType"));
        Assert.Contains(detail, Text(run.Verdict, "reason"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_Plain_With_A_Charset_Is_Accepted()
    {
        var run = (await RelayAsync("200 OK", "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 600\n", server: h => h.ContentType = "Text/Plain; charset=utf-8")).Single();
        Assert.Equal("pass", Text(run.Verdict, "verdict"));
    }

    [Fact]
    public async Task No_Http_Caching_The_Policy_Is_Fetched_Again_After_Max_Age_Whatever_Http_Headers_Say()
    {
        // The server invites an HTTP cache to keep the answer a day; the policy itself lives one second.
        var runs = await RelayAsync(
            "200 OK",
            "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 1\n",
            sessions: 2,
            server: h => h.ExtraHeaders = "Cache-Control: public, max-age=86400\r\nETag: \"policy-1\"\r\nLast-Modified: Mon, 07 Dec 2026 08:00:00 GMT",
            pause: TimeSpan.FromSeconds(2));
        Assert.All(runs, r => Assert.Equal("pass", Text(r.Verdict, "verdict")));
        Assert.False(runs[1].Verdict.GetProperty("fromCache").GetBoolean());
        Assert.Equal(2, runs[1].Lookups.Fetches);
        var requests = runs[1].Https.RequestHeaders;
        Assert.Equal(2, requests.Count);
        Assert.All(requests, headers =>
        {
            // Neither revalidation nor a cached answer: each fetch is a plain GET that asks for a fresh copy.
            Assert.DoesNotContain(headers, l => l.StartsWith("If-", StringComparison.OrdinalIgnoreCase));
            Assert.Contains(headers, l => l.Equals("Cache-Control: no-cache", StringComparison.OrdinalIgnoreCase));
        });
    }
}
