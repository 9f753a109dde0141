using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.Relay;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;
using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary><c>--check-revocation</c> against a CA on loopback (a small HTTP server serving a CRL and answering OCSP,
/// both made at run time): good, revoked, unreachable and stale, the cache, and the real proxy recording the result
/// when it arrives, also after the session ended.</summary>
public sealed class RevocationCheckTests
{
    [Fact]
    public async Task Checker_Good_Revoked_Unreachable_Stale_FromALoopbackCa_OneRequestPerUrl()
    {
        var now = DateTimeOffset.UtcNow;
        await using var server = new RevocationHttpServer();
        using var pki = new RevocationPki(server.BaseUrl, now);
        using var good = pki.Issue("good.example.test");
        using var revoked = pki.Issue("revoked.example.test");
        pki.Revoke(revoked);
        server.Crl = () => pki.Crl();
        server.Ocsp = pki.OcspResponse;
        await using var checker = new RevocationChecker(TimeProvider.System, TimeSpan.FromSeconds(10));

        var ok = Assert.Single(await checker.CheckChainAsync("upstream", pki.Chain(good)));
        Assert.Equal(RevocationStatus.Good, ok.Status);
        Assert.Equal([RevocationSourceKind.Crl, RevocationSourceKind.Ocsp], ok.Sources.Select(s => s.Kind));
        Assert.All(ok.Sources, s => Assert.True(s.Reachable == true && s.Status == RevocationStatus.Good && s.SignatureValid == true, s.Describe()));
        Assert.True(ok.CrlReachable);
        Assert.InRange(ok.Sources[0].Age!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(70));

        var bad = Assert.Single(await checker.CheckChainAsync("upstream", pki.Chain(revoked)));
        Assert.Equal(RevocationStatus.Revoked, bad.Status);
        Assert.All(bad.Sources, s => Assert.Equal(RevocationStatus.Revoked, s.Status));
        Assert.Equal("keyCompromise", bad.Sources[0].RevocationReason);

        // The CRL was fetched once for both certificates; OCSP is asked per certificate.
        Assert.Equal(3, server.Requests);
        Assert.Equal(3, checker.Requests);

        var closed = ClosedPort();
        using var lost = pki.Issue("lost.example.test", $"http://127.0.0.1:{closed}/ca.crl", $"http://127.0.0.1:{closed}/ocsp");
        var unreachable = Assert.Single(await checker.CheckChainAsync("upstream", pki.Chain(lost)));
        Assert.Equal(RevocationStatus.Unknown, unreachable.Status);
        Assert.False(unreachable.CrlReachable);
        Assert.All(unreachable.Sources, s => Assert.Equal((false, "connection refused"), (s.Reachable, s.Failure)));

        using var notFound = pki.Issue("moved.example.test", server.BaseUrl + "/retired.crl", string.Empty);
        var missing = Assert.Single(await checker.CheckChainAsync("upstream", pki.Chain(notFound)));
        Assert.Equal("HTTP 404 Not Found", Assert.Single(missing.Sources).Failure);

        await using var staleServer = new RevocationHttpServer();
        using var stalePki = new RevocationPki(staleServer.BaseUrl, now, "Forgotten CA");
        staleServer.Crl = () => stalePki.Crl(now.AddDays(-10), now.AddDays(-3));
        using var old = stalePki.Issue("stale.example.test", ocspUrl: string.Empty);
        var stale = Assert.Single(await checker.CheckChainAsync("upstream", stalePki.Chain(old)));
        Assert.True(stale.Stale);
        Assert.Equal(RevocationStatus.Good, stale.Status);
        Assert.InRange(Assert.Single(stale.Sources).Age!.Value, TimeSpan.FromDays(10), TimeSpan.FromDays(10.1));
    }

    [Fact]
    public async Task Proxy_RevokedUpstreamCertificate_InTranscriptSummaryAndFindingsFile_SameAsAnalyze()
    {
        var (summary, events, fileLines) = await ThroughProxyAsync(TimeSpan.Zero);

        var revocation = Assert.Single(events, e => e.Kind == CertificateRevocation.EventKind);
        Assert.Equal("revoked", EventFields.Text(revocation.Data, "status"));
        Assert.Equal("upstream", EventFields.Text(revocation.Data, "leg"));
        Assert.Contains(fileLines, l => l.TryGetProperty("code", out var code) && code.GetString() == FindingCodes.CertRevoked && l.GetProperty("session").GetString() == summary.SessionId);
        var saved = FindingEngine.Analyze(events);
        var live = events.Where(e => e.Kind == FindingEngine.EventKind).Select(e => Finding.FromData(e.Session, e.Data)!).ToList();
        Assert.Equal(live.Select(f => f.Signature), saved.Select(f => f.Signature));
        Assert.Contains(saved, f => f.Code == FindingCodes.CertRevoked);
    }

    [Fact]
    public async Task Proxy_SlowCa_SessionEndsWithoutWaiting_AndTheResultFollowsTheSummary()
    {
        var (summary, events, fileLines) = await ThroughProxyAsync(TimeSpan.FromSeconds(4));

        // The session did not wait: its summary says the check is out, and has no revocation finding.
        Assert.Contains(summary.Revocation, l => l.Contains("still waiting for an answer", StringComparison.Ordinal));
        Assert.DoesNotContain(summary.Findings, f => f.Code == FindingCodes.CertRevoked);

        // The answer joined the same transcript after the summary, and the findings file.
        var summaryAt = events.FindIndex(e => e.Kind == EventKinds.Summary);
        var revocationAt = events.FindIndex(e => e.Kind == CertificateRevocation.EventKind);
        var findingAt = events.FindIndex(e => e.Kind == FindingEngine.EventKind && EventFields.Text(e.Data, "code") == FindingCodes.CertRevoked);
        Assert.True(summaryAt >= 0 && revocationAt > summaryAt && findingAt > revocationAt, $"summary #{summaryAt}, revocation #{revocationAt}, finding #{findingAt}");
        Assert.Contains(fileLines, l => l.TryGetProperty("code", out var code) && code.GetString() == FindingCodes.CertRevoked);
        Assert.Contains(FindingEngine.Analyze(events), f => f.Code == FindingCodes.CertRevoked);
    }

    [Fact]
    public async Task Probe_WaitsForTheCheck_AndCountsCertRevoked()
    {
        var now = DateTimeOffset.UtcNow;
        await using var server = new RevocationHttpServer();
        using var pki = new RevocationPki(server.BaseUrl, now);
        using var leaf = pki.Issue("mx.revoked.test");
        pki.Revoke(leaf);
        server.Crl = () => pki.Crl();
        server.Ocsp = pki.OcspResponse;
        await using var upstream = new LabSmtpServer(new LabServerOptions { Hostname = "mx.revoked.test", BouncyTls = (pki.Identity(leaf), TlsPolicy.Default) });
        upstream.Start();
        await using var checker = new RevocationChecker(TimeProvider.System, TimeSpan.FromSeconds(10));

        var session = await new SmtpLens.Probe.SmtpProbe(new SmtpLens.Probe.ProbeOptions { ServerName = "mx.revoked.test", Timeout = TimeSpan.FromSeconds(20), Revocation = checker }, TimeProvider.System)
            .RunAsync(new SmtpLens.Net.HostPort("127.0.0.1", upstream.EndPoint.Port), null, CancellationToken.None);

        var revoked = Assert.Single(session.Findings, f => f.Code == FindingCodes.CertRevoked);
        Assert.Contains("upstream certificate [0] CN=mx.revoked.test", revoked.Title, StringComparison.Ordinal);
        var disconnect = session.Events.FindIndex(e => e.Kind == EventKinds.Disconnect);
        Assert.InRange(session.Events.FindIndex(e => e.Kind == CertificateRevocation.EventKind), 0, disconnect);
    }

    /// <summary>A STARTTLS upstream whose certificate its CA has revoked, intercepted by SmtpLens with --check-revocation.</summary>
    private static async Task<(SessionSummary Summary, List<TranscriptEvent> Events, IReadOnlyList<JsonElement> FileLines)> ThroughProxyAsync(TimeSpan caDelay)
    {
        var now = DateTimeOffset.UtcNow;
        await using var server = new RevocationHttpServer { Delay = caDelay };
        using var pki = new RevocationPki(server.BaseUrl, now);
        using var leaf = pki.Issue("mx.revoked.test");
        pki.Revoke(leaf);
        server.Crl = () => pki.Crl();
        server.Ocsp = pki.OcspResponse;
        using var proxyCa = CertificateAuthority.CreateEphemeral(TimeProvider.System, "SmtpLens Revocation Test Interception CA");
        var tls = new TlsInterceptionOptions { Authority = proxyCa, UpstreamTrustAnchors = [pki.Ca] };
        var upstream = new LabServerOptions { Hostname = "mx.revoked.test", BouncyTls = (pki.Identity(leaf), TlsPolicy.Default) };
        var dir = Path.Combine(Path.GetTempPath(), "smtplens-revocation-" + Guid.NewGuid().ToString("N")[..12]);
        var findingsPath = Path.Combine(dir, "findings.jsonl");
        try
        {
            SessionSummary summary;
            List<TranscriptEvent> events;
            await using (var findings = new FindingsLog(findingsPath, "it"))
            {
                // The policy verdicts wait for the answers at most 1 s (Exchange's CRL rule), so a slow CA still answers after the summary.
                await using var checker = new RevocationChecker(TimeProvider.System, TimeSpan.FromSeconds(20)) { VerdictWait = TimeSpan.FromSeconds(1) };
                await using var f = await RelayFixture.StartAsync(upstream, null, tls: tls, findings: findings, session: c => c with { Revocation = checker });
                var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("revocation test\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "mx.revoked.test" }, CancellationToken.None);
                Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Report);
                summary = (await f.WaitForSessionsAsync(1)).Single();

                // Late results keep the transcript open; the checker knows when it has closed.
                await checker.IdleAsync().WaitAsync(TimeSpan.FromSeconds(60));
                events = [.. JsonLinesTranscriptReader.Read(Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl"))];
            }

            var fileLines = File.ReadAllLines(findingsPath).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            return (summary, events, fileLines);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
