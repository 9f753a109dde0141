using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.Net;
using SmtpLens.Policy;
using SmtpLens.Probe;
using SmtpLens.Relay;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;
using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.Policy;

/// <summary>Exchange Online's inbound rule "the CRL must be readable" (seed 003) fed by --check-revocation: a loopback
/// CA publishing its CRL over HTTP, an upstream presenting its certificate, through the real relay and through probe.</summary>
public sealed class ExoInboundRevocationTests(ITestOutputHelper output)
{
    private const string Host = "mx.contoso.test";

    public enum Crl
    {
        Good,
        Revoked,
        Unreachable,
    }

    [Theory]
    [InlineData(Crl.Good, "pass", "CRL reachable: read http://127.0.0.1:")]
    [InlineData(Crl.Revoked, "fail", "Revoked (upstream certificate [0] CN=mx.contoso.test")]
    [InlineData(Crl.Unreachable, "fail", "RevocationStatusUnknown (upstream certificate [0] CN=mx.contoso.test: CRL http://127.0.0.1:")]
    public async Task Proxy_Exo_Inbound_Follows_The_Crl_In_Summary_Transcript_And_Findings_File(Crl crl, string verdict, string reason)
    {
        await using var server = new RevocationHttpServer();
        using var pki = Pki(server, crl, out var leaf);
        var dir = Directory.CreateTempSubdirectory("smtplens-exo-inbound-");
        try
        {
            using (leaf)
            {
                SessionSummary summary;
                List<JsonElement> events;
                var findingsPath = Path.Combine(dir.FullName, "findings.jsonl");
                await using (var findings = new FindingsLog(findingsPath, "it"))
                {
                    using var proxyCa = CertificateAuthority.CreateEphemeral(TimeProvider.System, "SmtpLens ExoInbound Test Interception CA");
                    var tls = new TlsInterceptionOptions { Authority = proxyCa, UpstreamTrustAnchors = [pki.Ca] };
                    var upstream = new LabServerOptions { Hostname = Host, BouncyTls = (pki.Identity(leaf), TlsPolicy.Default) };
                    var policies = new PolicySettings { Anchors = [pki.Ca], AnchorsText = "test CA", SenderPolicies = [PolicyIds.ExoInbound] };
                    await using var checker = new RevocationChecker(TimeProvider.System, TimeSpan.FromSeconds(10));
                    await using var f = await RelayFixture.StartAsync(upstream, null, tls: tls, findings: findings, session: c => c with { Revocation = checker, Policies = policies });
                    var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("exo inbound\r\n")], new LabClientOptions { StartTls = true, TlsServerName = Host }, CancellationToken.None);
                    Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Report);
                    summary = (await f.WaitForSessionsAsync(1)).Single();
                    await checker.IdleAsync().WaitAsync(TimeSpan.FromSeconds(60));
                    events = [.. f.ReadTranscript(summary.SessionId, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
                }

                var exo = Assert.Single(summary.Policies, p => p.Policy == PolicyIds.ExoInbound);
                output.WriteLine(exo.Line());
                Assert.Equal(verdict, exo.VerdictName);
                Assert.Contains(reason, exo.Reason, StringComparison.Ordinal);
                Assert.Equal(verdict == "fail", summary.Findings.Any(x => x.Code == FindingCodes.TlsPolicyWouldFail));

                // The verdict was recorded before the summary (the session waited for the CRL), and says what the CRL said.
                var summaryAt = events.FindIndex(e => e.GetProperty("kind").GetString() == EventKinds.Summary);
                var policyAt = events.FindIndex(e => e.GetProperty("kind").GetString() == EventKinds.TlsPolicy && e.GetProperty("data").GetProperty("policy").GetString() == PolicyIds.ExoInbound);
                var revocationAt = events.FindIndex(e => e.GetProperty("kind").GetString() == CertificateRevocation.EventKind);
                Assert.True(revocationAt >= 0 && revocationAt < policyAt && policyAt < summaryAt, $"revocation #{revocationAt}, exo-inbound #{policyAt}, summary #{summaryAt}");
                Assert.Contains(crl == Crl.Good ? "read http://127.0.0.1:" : "CN=mx.contoso.test", events[policyAt].GetProperty("data").GetProperty("crl").GetString(), StringComparison.Ordinal);

                // The findings file: one tls-policy line per verdict of the session, beside the unchanged finding lines.
                var lines = File.ReadAllLines(Path.Combine(dir.FullName, "findings.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
                var policyLines = lines.Where(l => l.TryGetProperty("type", out var t) && t.GetString() == EventKinds.TlsPolicy).ToList();
                Assert.Equal(summary.Policies.Select(p => p.Policy), policyLines.Select(l => l.GetProperty("policy").GetString()));
                Assert.All(policyLines, l => Assert.Equal((summary.SessionId, "it"), (l.GetProperty("session").GetString(), l.GetProperty("instance").GetString())));
                var exoLine = policyLines.Single(l => l.GetProperty("policy").GetString() == PolicyIds.ExoInbound);
                Assert.Equal((verdict, exo.Reason, true), (exoLine.GetProperty("verdict").GetString(), exoLine.GetProperty("reason").GetString(), exoLine.GetProperty("sender").GetBoolean()));
                Assert.Equal(JsonValueKind.String, exoLine.GetProperty("facts").GetProperty("crl").ValueKind);
                Assert.All(lines.Where(l => l.TryGetProperty("code", out _)), l => Assert.False(l.TryGetProperty("type", out _)));
                Assert.Equal(verdict == "fail", lines.Any(l => l.TryGetProperty("code", out var c) && c.GetString() == FindingCodes.TlsPolicyWouldFail));
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Proxy_A_Ca_Slower_Than_The_Wait_Fails_Exo_Inbound_As_Unanswered()
    {
        await using var server = new RevocationHttpServer { Delay = TimeSpan.FromSeconds(4) };
        using var pki = Pki(server, Crl.Good, out var leaf);
        using (leaf)
        {
            using var proxyCa = CertificateAuthority.CreateEphemeral(TimeProvider.System, "SmtpLens ExoInbound Test Interception CA");
            var tls = new TlsInterceptionOptions { Authority = proxyCa, UpstreamTrustAnchors = [pki.Ca] };
            var upstream = new LabServerOptions { Hostname = Host, BouncyTls = (pki.Identity(leaf), TlsPolicy.Default) };
            await using var checker = new RevocationChecker(TimeProvider.System, TimeSpan.FromSeconds(20)) { VerdictWait = TimeSpan.FromMilliseconds(500) };
            await using var f = await RelayFixture.StartAsync(upstream, null, tls: tls, session: c => c with { Revocation = checker, Policies = new PolicySettings { Anchors = [pki.Ca] } });
            var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("exo inbound\r\n")], new LabClientOptions { StartTls = true, TlsServerName = Host }, CancellationToken.None);
            Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Report);
            var summary = (await f.WaitForSessionsAsync(1)).Single();

            var exo = Assert.Single(summary.Policies, p => p.Policy == PolicyIds.ExoInbound);
            Assert.Equal(Verdict.Fail, exo.Verdict);
            Assert.Contains("RevocationStatusUnknown (no answer from the CRL distribution points within 0.5 s)", exo.Reason, StringComparison.Ordinal);
            Assert.Contains(summary.Revocation, l => l.Contains("still waiting for an answer", StringComparison.Ordinal));
            await checker.IdleAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    [Theory]
    [InlineData(Crl.Good, "pass", "CRL reachable")]
    [InlineData(Crl.Unreachable, "fail", "RevocationStatusUnknown")]
    public async Task Probe_Exo_Inbound_Follows_The_Crl(Crl crl, string verdict, string reason)
    {
        await using var server = new RevocationHttpServer();
        using var pki = Pki(server, crl, out var leaf);
        using (leaf)
        {
            await using var upstream = new LabSmtpServer(new LabServerOptions { Hostname = Host, BouncyTls = (pki.Identity(leaf), TlsPolicy.Default) });
            upstream.Start();
            await using var checker = new RevocationChecker(TimeProvider.System, TimeSpan.FromSeconds(10));
            var probe = new SmtpProbe(new ProbeOptions { ServerName = Host, Timeout = TimeSpan.FromSeconds(20), Revocation = checker }, TimeProvider.System);
            var host = await probe.ProbeHostAsync(new HostPort("127.0.0.1", upstream.EndPoint.Port), Host, CancellationToken.None);

            // Exchange's DomainValidation checks the certificate name against TlsDomain only; a wildcard TlsDomain covers the name.
            var settings = new PolicySettings { Anchors = [pki.Ca], SenderPolicies = ["exo:DomainValidation:contoso.test", "exo:DomainValidation:*.contoso.test"] };
            var verdicts = Assert.Single(await ProbePolicies.EvaluateAllAsync([host], settings, null, null, implicitTls: false, TimeProvider.System, CancellationToken.None)).Verdicts;
            foreach (var v in verdicts)
            {
                output.WriteLine(v.Line());
            }

            Assert.Equal(
                [("exo:DomainValidation:contoso.test", Verdict.Fail), ("exo:DomainValidation:*.contoso.test", Verdict.Pass)],
                verdicts.Where(v => v.Policy.StartsWith(PolicyIds.ExoDomainValidationPrefix, StringComparison.Ordinal)).Select(v => (v.Policy, v.Verdict)));
            var exo = Assert.Single(verdicts, p => p.Policy == PolicyIds.ExoInbound);
            Assert.Equal(verdict, exo.VerdictName);
            Assert.Contains(reason, exo.Reason, StringComparison.Ordinal);
        }
    }

    /// <summary>A CA on <paramref name="server"/> and a leaf for <see cref="Host"/> whose CRL is good, revoked, or at a closed port.</summary>
    private static RevocationPki Pki(RevocationHttpServer server, Crl crl, out System.Security.Cryptography.X509Certificates.X509Certificate2 leaf)
    {
        var pki = new RevocationPki(server.BaseUrl, DateTimeOffset.UtcNow);
        server.Crl = () => pki.Crl();
        leaf = crl == Crl.Unreachable ? pki.Issue(Host, $"http://127.0.0.1:{ClosedPort()}/ca.crl", string.Empty) : pki.Issue(Host, ocspUrl: string.Empty);
        if (crl == Crl.Revoked)
        {
            pki.Revoke(leaf);
        }

        return pki;
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
