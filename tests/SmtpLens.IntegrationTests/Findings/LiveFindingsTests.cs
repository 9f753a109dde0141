using System.Net;
using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.IntegrationTests.Probe;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Lab;
using SmtpLens.Relay;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Findings;

/// <summary>Live proxied sessions raise findings in the transcripts, the summary and the --findings file, and
/// <c>smtplens analyze</c> on the saved .jsonl gives the same findings as the live run did.</summary>
public sealed class LiveFindingsTests : IDisposable
{
    /// <summary>Seed 002's appliance: TLS 1.0 with RC4 only (both lab ends are BouncyCastle; OpenSSL 3 has no RC4).</summary>
    private static readonly TlsPolicy Rc4Only = new()
    {
        CipherSuites = [Org.BouncyCastle.Tls.CipherSuite.TLS_RSA_WITH_RC4_128_SHA],
        MinimumVersion = 0x0301,
        MaximumVersion = 0x0301,
    };

    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task CiscoMaskedUpstream_LiveFindings_MatchAnalyzeOfTheSavedTranscript()
    {
        var upstream = new LabServerOptions
        {
            Banner = "****************************2*0***0****",
            Keywords = ["PIPELINING", "SIZE 157286400", "8BITMIME", "XXXXXXXA", "ENHANCEDSTATUSCODES"],
        };

        var (summary, live, saved, fileLines) = await RunAsync(upstream, null, new LabClientOptions());

        Assert.Equal([FindingCodes.BannerMasked, FindingCodes.EhloKeywordMasked, FindingCodes.StartTlsNotOffered], live.Select(f => f.Code));
        Assert.Contains("most likely STARTTLS", live[1].Title, StringComparison.Ordinal);
        Assert.Equal(FindingSeverity.Warning, live[2].Severity);
        Assert.Equal(live.Select(f => f.Signature), saved.Select(f => f.Signature));
        Assert.Equal(live.Select(f => f.Code), fileLines.Select(l => l.GetProperty("code").GetString()));
        Assert.All(fileLines, l => Assert.Equal(summary.SessionId, l.GetProperty("session").GetString()));
        Assert.All(fileLines, l => Assert.Equal("it", l.GetProperty("instance").GetString()));
        Assert.Contains("findings: warning BANNER_MASKED", summary.ToLogLine(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpiredWildcardUpstreamCertificate_LiveFindings_MatchAnalyzeOfTheSavedTranscript()
    {
        var now = DateTimeOffset.UtcNow;
        var expired = _pki.UpstreamCa.ToX509WithKey(_pki.UpstreamCa.Issue("*.upstream.test", ["*.upstream.test"], now.AddDays(-60), now.AddDays(-2)));
        var upstream = new LabServerOptions { Hostname = "mx.upstream.test", TlsCertificate = expired };
        var tls = new TlsInterceptionOptions { Authority = _pki.ProxyCa };

        var (_, live, saved, fileLines) = await RunAsync(upstream, tls, new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test" });

        Assert.Equal([FindingCodes.CertExpired, FindingCodes.CertUntrusted, FindingCodes.CertWildcard], live.Select(f => f.Code));
        Assert.All(live, f => Assert.Equal(FindingLeg.Upstream, f.Leg));
        Assert.Contains("CN=*.upstream.test", live[0].Title, StringComparison.Ordinal);
        Assert.Equal(live.Select(f => f.Signature), saved.Select(f => f.Signature));
        Assert.Equal(live.Select(f => f.Code), fileLines.Select(l => l.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task Seed003_EhloNamesNotInTheCertificates_BothDirections_LiveFindings_MatchAnalyzeOfTheSavedTranscript()
    {
        // The upstream announces mail.upstream.test but serves mx.upstream.test's certificate; the sender says
        // EHLO gw.varunagroup.test but presents smtpo365's client certificate.
        var now = DateTimeOffset.UtcNow;
        var senderCertificate = _pki.UpstreamCa.ToX509WithKey(_pki.UpstreamCa.Issue("smtpo365.varunagroup.test", ["smtpo365.varunagroup.test"], now.AddDays(-1), now.AddDays(30), clientAuth: true));
        var upstream = new LabServerOptions { Hostname = "mail.upstream.test", TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test"), RequestClientCertificate = true };
        var tls = new TlsInterceptionOptions { Authority = _pki.ProxyCa, UpstreamClientCertificate = UpstreamClientCertificate.Mirror };

        var (_, live, saved, fileLines) = await RunAsync(upstream, tls, new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test", Helo = "gw.varunagroup.test", ClientCertificate = senderCertificate });

        var names = live.Where(f => f.Code == FindingCodes.EhloNameNotInCertificate).ToList();
        Assert.Equal(2, names.Count);
        var up = Assert.Single(names, f => f.Leg == FindingLeg.Upstream);
        Assert.StartsWith("the upstream calls itself mail.upstream.test (banner, EHLO reply), but its certificate (CN=mx.upstream.test", up.Title, StringComparison.Ordinal);
        var sender = Assert.Single(names, f => f.Leg == FindingLeg.Client);
        Assert.StartsWith("the sender calls itself gw.varunagroup.test (EHLO), but its client certificate (CN=smtpo365.varunagroup.test", sender.Title, StringComparison.Ordinal);
        Assert.Contains("Exchange Online", sender.Title, StringComparison.Ordinal);
        Assert.DoesNotContain(live, f => f.Code == FindingCodes.CertNameMismatch);
        Assert.Equal(live.Select(f => f.Signature), saved.Select(f => f.Signature));
        Assert.Equal(live.Select(f => f.Code), fileLines.Select(l => l.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task StartTlsRefusedUpstream_LiveFindings_MatchAnalyzeOfTheSavedTranscript()
    {
        var upstream = new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("lab-upstream.smtplens.test"), RefuseStartTls = true };
        var tls = new TlsInterceptionOptions { Authority = _pki.ProxyCa };

        var (_, live, saved, _) = await RunAsync(upstream, tls, new LabClientOptions { StartTls = true }, delivered: false);

        var rejected = Assert.Single(live, f => f.Code == FindingCodes.StartTlsRejected);
        Assert.StartsWith("STARTTLS refused: 454", rejected.Title, StringComparison.Ordinal);
        Assert.Equal(live.Select(f => f.Signature), saved.Select(f => f.Signature));
    }

    [Fact]
    public async Task Seed002_Tls10Rc4Appliance_LiveFindings_MatchAnalyzeOfTheSavedTranscript()
    {
        var now = DateTimeOffset.UtcNow;
        var upstream = new LabServerOptions { Hostname = "legacy.upstream.test", BouncyTls = (_pki.UpstreamCa.Issue("legacy.upstream.test", ["legacy.upstream.test"], now.AddDays(-1), now.AddDays(30)), Rc4Only) };
        var tls = new TlsInterceptionOptions { Authority = _pki.ProxyCa, ClientPolicy = TlsPolicy.Legacy, UpstreamPolicy = TlsPolicy.Legacy };

        var (_, live, saved, _) = await RunAsync(upstream, tls, new LabClientOptions { StartTls = true, BouncyPolicy = Rc4Only, TlsServerName = "legacy.upstream.test" });

        Assert.Contains(live, f => f.Code == FindingCodes.TlsLegacyProtocol && f.Title == "TLSv1.0 negotiated on the upstream leg");
        Assert.Contains(live, f => f.Code == FindingCodes.TlsLegacyProtocol && f.Title == "TLSv1.0 negotiated on the client leg");
        Assert.Contains(live, f => f.Code == FindingCodes.TlsLegacyProtocol && f.Title == "the client offered at most TLSv1.0");
        Assert.Contains(live, f => f.Code == FindingCodes.TlsWeakCipher && f.Title == "weak cipher negotiated on the upstream leg: TLS_RSA_WITH_RC4_128_SHA (RC4)");
        Assert.Contains(live, f => f.Code == FindingCodes.TlsWeakCipher && f.Title.StartsWith("the client offered only weak cipher suites", StringComparison.Ordinal));
        Assert.DoesNotContain(live, f => f.Code == FindingCodes.TlsDroppedAfterHandshake);
        Assert.Equal(live.Select(f => f.Signature), saved.Select(f => f.Signature));
    }

    [Fact]
    public async Task Rc4OnlyUpstreamAgainstTheModernDefault_IsAHandshakeFailureOnTheUpstreamLeg()
    {
        var now = DateTimeOffset.UtcNow;
        var upstream = new LabServerOptions { Hostname = "legacy.upstream.test", BouncyTls = (_pki.UpstreamCa.Issue("legacy.upstream.test", ["legacy.upstream.test"], now.AddDays(-1), now.AddDays(30)), Rc4Only) };
        var tls = new TlsInterceptionOptions { Authority = _pki.ProxyCa };

        var (_, live, saved, _) = await RunAsync(upstream, tls, new LabClientOptions { StartTls = true, TlsServerName = "legacy.upstream.test" }, delivered: false);

        var failed = Assert.Single(live, f => f.Code == FindingCodes.TlsHandshakeFailed);
        Assert.Equal(FindingLeg.Upstream, failed.Leg);
        Assert.StartsWith("the upstream leg handshake failed: ", failed.Title, StringComparison.Ordinal);
        Assert.Equal(live.Select(f => f.Signature), saved.Select(f => f.Signature));
    }

    [Fact]
    public async Task ClientHandshakesThenHangsUp_IsTlsDroppedAfterHandshake_OnTheClientLeg()
    {
        var upstream = new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("lab-upstream.smtplens.test") };
        await using var f = await RelayFixture.StartAsync(upstream, tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa });

        // Seed 002's shape: TLS is negotiated, then the connection goes away before any SMTP inside it.
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(f.ProxyEndPoint);
            var stream = tcp.GetStream();
            await ReadReplyAsync(stream, "220 ");
            await stream.WriteAsync("EHLO dropper.test\r\n"u8.ToArray());
            await ReadReplyAsync(stream, "250 ");
            await stream.WriteAsync("STARTTLS\r\n"u8.ToArray());
            await ReadReplyAsync(stream, "220 ");
#pragma warning disable CA5359 // The test sender accepts SmtpLens's forged certificate; trust is not what is tested.
            using var ssl = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: true, (_, _, _, _) => true);
#pragma warning restore CA5359
            await ssl.AuthenticateAsClientAsync("lab-upstream.smtplens.test");
        }

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var dropped = Assert.Single(summary.Findings, x => x.Code == FindingCodes.TlsDroppedAfterHandshake);
        Assert.Equal(FindingLeg.Client, dropped.Leg);
        Assert.Contains("then the client closed the connection", dropped.Title, StringComparison.Ordinal);
        var saved = FindingEngine.Analyze(JsonLinesTranscriptReader.Read(Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl")));
        Assert.Equal(summary.Findings.Select(x => x.Signature), saved.Select(x => x.Signature));
    }

    private static async Task ReadReplyAsync(System.Net.Sockets.NetworkStream stream, string lastLinePrefix)
    {
        var text = new System.Text.StringBuilder();
        var buffer = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        // Byte by byte, so nothing after the reply (the TLS handshake) is read here.
        while (!(text.ToString().Split("\r\n").Any(l => l.StartsWith(lastLinePrefix, StringComparison.Ordinal)) && text.ToString().EndsWith("\r\n", StringComparison.Ordinal)))
        {
            Assert.Equal(1, await stream.ReadAsync(buffer, timeout.Token));
            text.Append((char)buffer[0]);
        }
    }

    [Fact]
    public async Task SimulatedCiscoMiddlebox_FindingsAreMarkedSimulated_AndAnalyzeAgrees()
    {
        var upstream = new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("lab-upstream.smtplens.test") };
        await using var f = await RelayFixture.StartAsync(upstream, simulation: SmtpLens.Simulation.SimulationRules.Parse(["mask-keywords=STARTTLS", "mask-banner"]));
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("demo\r\n")], new LabClientOptions(), CancellationToken.None);
        Assert.True(result.Fates.Single().Delivered, result.Error);

        var summary = (await f.WaitForSessionsAsync(1)).Single();

        Assert.Equal([FindingCodes.BannerMasked, FindingCodes.EhloKeywordMasked, FindingCodes.StartTlsNotOffered], summary.Findings.Select(x => x.Code));
        Assert.All(summary.Findings, x => Assert.StartsWith("[SIMULATED] ", x.Title, StringComparison.Ordinal));
        Assert.All(summary.Findings, x => Assert.Equal(true, x.Facts["simulated"]));
        var saved = FindingEngine.Analyze(JsonLinesTranscriptReader.Read(Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl")));
        Assert.Equal(summary.Findings.Select(x => x.Signature), saved.Select(x => x.Signature));
    }

    [Fact]
    public async Task PlaintextPipelinedAfterStartTls_IsStartTlsInjection_QuotingTheBytes()
    {
        var upstream = new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("lab-upstream.smtplens.test") };
        await using var f = await RelayFixture.StartAsync(upstream, tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa });
        await using (var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint))
        {
            Assert.True(await client.ReadUntilAsync("220 "));
            await client.SendAsync("EHLO injector\r\n");
            Assert.True(await client.ReadUntilAsync("250 "));
            await client.SendAsync("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
            Assert.True(await client.ReadUntilAsync("220 2.0.0"));
            client.Close();
        }

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var injection = Assert.Single(summary.Findings, x => x.Code == FindingCodes.StartTlsInjection);
        Assert.Equal(FindingSeverity.Error, injection.Severity);
        Assert.Equal(FindingLeg.Client, injection.Leg);
        Assert.Contains("MAIL FROM:<injected@evil.test>", injection.Title, StringComparison.Ordinal);
        Assert.Equal("C: STARTTLS", injection.Evidence[0].Text);
        var saved = FindingEngine.Analyze(JsonLinesTranscriptReader.Read(Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl")));
        Assert.Equal(summary.Findings.Select(x => x.Signature), saved.Select(x => x.Signature));
    }

    [Fact]
    public async Task UpstreamPlaintextAfterIts220ToStartTls_IsDiscardedAndReportedOnTheUpstreamLeg()
    {
        // A middlebox answering for the server: its 220 and a forged reply in one write, before any TLS.
        await using var upstream = ScriptedSmtpServer.Start(async c =>
        {
            await c.GreetOfferingStartTlsAsync("mx.scripted.test");
            await c.ExpectAsync("220 2.0.0 Ready to start TLS", "250 2.0.0 injected-by-a-middlebox");
            await c.ReadLineAsync();
        });
        await using var f = await RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, upstream.Port));
        await using (var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint))
        {
            Assert.True(await client.ReadUntilAsync("220 "));
            await client.SendAsync("EHLO sender.test\r\n");
            Assert.True(await client.ReadUntilAsync("250 STARTTLS"));
            await client.SendAsync("STARTTLS\r\n");
            Assert.True(await client.ReadUntilAsync("220 2.0.0"));

            // Whatever the relay would still pass on arrives within this wait.
            Assert.False(await client.ReadUntilAsync("injected", TimeSpan.FromMilliseconds(500)));
            Assert.DoesNotContain("injected", client.ReceivedText, StringComparison.Ordinal);
            client.Close();
        }

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var injection = Assert.Single(summary.Findings, x => x.Code == FindingCodes.StartTlsInjection);
        Assert.Equal(FindingLeg.Upstream, injection.Leg);
        Assert.Equal("the upstream sent 35 bytes of plaintext after its 220 to STARTTLS: 250 2.0.0 injected-by-a-middlebox\\r\\n", injection.Title);
        var saved = FindingEngine.Analyze(JsonLinesTranscriptReader.Read(Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl")));
        Assert.Equal(summary.Findings.Select(x => x.Signature), saved.Select(x => x.Signature));
    }

    /// <summary>One proxied session; returns the summary, the live findings, analyze's findings of the saved .jsonl
    /// (in-process and through the executable, which must agree), and the --findings file's lines.</summary>
    private async Task<(SessionSummary Summary, IReadOnlyList<Finding> Live, IReadOnlyList<Finding> Saved, IReadOnlyList<JsonElement> FileLines)> RunAsync(LabServerOptions upstream, TlsInterceptionOptions? tls, LabClientOptions client, bool delivered = true)
    {
        var findingsPath = Path.Combine(Path.GetTempPath(), "smtplens-findings-" + Guid.NewGuid().ToString("N")[..12] + ".jsonl");
        try
        {
            SessionSummary summary;
            string jsonl;
            await using (var findingsLog = new FindingsLog(findingsPath, "it"))
            {
                await using var f = await RelayFixture.StartAsync(upstream, tls: tls, findings: findingsLog);
                var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("findings test\r\n")], client, CancellationToken.None);
                Assert.Equal(delivered, result.Fates.Single().Delivered);
                summary = (await f.WaitForSessionsAsync(1)).Single();
                jsonl = Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl");
                var copy = findingsPath + ".session.jsonl";
                File.Copy(jsonl, copy);
                jsonl = copy;
                var log = f.ReadTranscript(summary.SessionId, ".log");
                Assert.All(summary.Findings, finding => Assert.Contains("* " + finding.Headline, log, StringComparison.Ordinal));
            }

            var saved = FindingEngine.Analyze(JsonLinesTranscriptReader.Read(jsonl));
            Assert.Equal(summary.Findings.Select(x => x.At), saved.Select(x => x.At));
            var allLines = File.ReadAllLines(findingsPath).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

            // Beside the findings, one "type":"tls-policy" line per policy verdict of the session.
            var fileLines = allLines.Where(l => !l.TryGetProperty("type", out _)).ToList();
            Assert.Equal(summary.Policies.Select(p => p.Policy), allLines.Where(l => l.TryGetProperty("type", out var t) && t.GetString() == "tls-policy").Select(l => l.GetProperty("policy").GetString()));

            var (code, stdout, stderr) = await SmtplensProcess.RunAsync("analyze", "--json", jsonl);
            Assert.True(code == (summary.Findings.Any(x => x.Severity >= FindingSeverity.Warning) ? 1 : 0), $"exit {code}: {stderr}");
            var printed = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(summary.Findings.Select(x => x.Code), printed.Select(p => p.GetProperty("code").GetString()));
            Assert.Equal(summary.Findings.Select(x => x.Title), printed.Select(p => p.GetProperty("title").GetString()));
            File.Delete(jsonl);
            return (summary, summary.Findings, saved, fileLines);
        }
        finally
        {
            File.Delete(findingsPath);
        }
    }
}
