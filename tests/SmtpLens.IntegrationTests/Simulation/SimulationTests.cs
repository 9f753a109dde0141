using System.Text;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Lab;
using SmtpLens.Simulation;
using SmtpLens.StateMachine;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Simulation;

/// <summary>--simulate: each rule alters the session on purpose, and every transcript format says so.</summary>
public sealed class SimulationTests : IDisposable
{
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private static SimulationRules Rules(params string[] specs) => SimulationRules.Parse(specs);

    private static List<JsonElement> SimulationEvents(RelayFixture f, string session) =>
        [.. f.ReadTranscript(session, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "simulation")];

    [Fact]
    public async Task Strip_StartTls_Hides_It_From_The_Client_And_Every_Format_Marks_It_Simulated()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, simulation: Rules("strip-keywords=STARTTLS"));
        var message = TestMessages.Text("stripped\r\n");
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], new LabClientOptions(), CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        Assert.False(result.Ehlo!.Has("STARTTLS"));
        Assert.True(result.Ehlo.Has("PIPELINING"));
        Assert.Equal(TestMessages.Sha256(message.Content), f.Upstream!.Received.Single().Sha256);

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("* SIMULATION ACTIVE on listener it: strip-keywords=STARTTLS.", log, StringComparison.Ordinal);
        Assert.Contains("* SIMULATED middlebox: removed EHLO keyword STARTTLS: upstream sent \"250 STARTTLS\" (its last line)", log, StringComparison.Ordinal);
        Assert.DoesNotContain("S: 250 STARTTLS", log, StringComparison.Ordinal);
        Assert.Contains("S: 250 SMTPUTF8", log, StringComparison.Ordinal);
        Assert.Equal(2, SimulationEvents(f, summary.SessionId).Count);
        Assert.All(SimulationEvents(f, summary.SessionId), e => Assert.True(e.GetProperty("data").GetProperty("simulated").GetBoolean()));
        Assert.Contains("SIMULATED middlebox: removed EHLO keyword STARTTLS", f.ReadTranscript(summary.SessionId, ".csv"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cisco_Masking_Writes_XXXXXXXA_And_A_Masked_Banner_And_Mail_Still_Flows_Intact()
    {
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test"), Banner = "mx20.upstream.test ESMTP ready" },
            simulation: Rules("mask-keywords=STARTTLS", "mask-banner"));
        var data = TestMessages.Text("line one\r\n.leading dot\r\n" + new string('z', 5000) + "\r\n");
        var bdat = TestMessages.Large(70_000, 7) with { BdatChunkSize = 16_000 };
        var first = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [data], new LabClientOptions(), CancellationToken.None);
        var second = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [bdat], new LabClientOptions(), CancellationToken.None);

        Assert.True(first.Fates.Single().Delivered, first.Error);
        Assert.True(second.Fates.Single().Delivered, second.Error);
        Assert.Equal("220 **20**************************", first.Greeting!.RawLines[0]);
        Assert.True(first.Ehlo!.Has("XXXXXXXA"));
        Assert.False(first.Ehlo.Has("STARTTLS"));
        Assert.Equal([TestMessages.Sha256(data.Content), TestMessages.Sha256(bdat.Content)], f.Upstream!.Received.Select(r => r.Sha256));

        var summary = (await f.WaitForSessionsAsync(2))[0];
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("S: 250 XXXXXXXA", log, StringComparison.Ordinal);
        Assert.Contains("SIMULATED middlebox: masked EHLO keyword STARTTLS as XXXXXXXA: upstream sent \"250 STARTTLS\"", log, StringComparison.Ordinal);
        Assert.Contains("SIMULATED middlebox: masked the banner (Cisco mask-banner): upstream sent \"220 mx20.upstream.test ESMTP ready\"", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartTls_Through_The_Middlebox_Turns_It_Opaque_And_Interception_Still_Works()
    {
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test"), Banner = "mx.upstream.test ESMTP" },
            tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa },
            simulation: Rules("mask-banner", "refuse-commands=VRFY"));
        var message = TestMessages.Large(50_000, 3);
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test" }, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        Assert.Equal(TestMessages.Sha256(message.Content), f.Upstream!.Received.Single().Sha256);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.All(summary.TlsLegs, l => Assert.True(l.Completed));
    }

    [Fact]
    public async Task Refused_Commands_Are_Answered_In_Pipeline_Order_And_Never_Reach_The_Upstream()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions());
        upstream.Start();
        await using var tap = new ByteTap(upstream.EndPoint);
        await using var f = await RelayFixture.StartAsync(null, tap.EndPoint, simulation: Rules("refuse-commands=VRFY:502,ETRN"));
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO pipelined.test\r\n");
        Assert.True(await client.ReadUntilAsync("250 "));
        var mark = client.ReceivedText.Length;
        await client.SendAsync("NOOP first\r\nVRFY bob\r\nNOOP second\r\nETRN example.test\r\nQUIT\r\n");
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(10)));

        var replies = client.ReceivedText[mark..].Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, replies.Length);
        Assert.StartsWith("250", replies[0], StringComparison.Ordinal);
        Assert.Equal("502 5.5.1 Command not implemented", replies[1]);
        Assert.StartsWith("250", replies[2], StringComparison.Ordinal);
        Assert.Equal("500 5.5.1 Command unrecognized: \"ETRN\"", replies[3]);
        Assert.StartsWith("221", replies[4], StringComparison.Ordinal);

        var atUpstream = Encoding.ASCII.GetString(tap.FromProxy);
        Assert.Contains("NOOP second\r\n", atUpstream, StringComparison.Ordinal);
        Assert.DoesNotContain("VRFY", atUpstream, StringComparison.Ordinal);
        Assert.DoesNotContain("ETRN", atUpstream, StringComparison.Ordinal);

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("SIMULATED middlebox: answered VRFY with 502 instead of forwarding it: client sent \"VRFY bob\", middlebox answered \"502 5.5.1 Command not implemented\"", log, StringComparison.Ordinal);
        Assert.Equal(SessionEndReason.Quit, summary.Reason);
    }

    [Fact]
    public async Task Refuse_StartTls_Answers_454_And_Refuse_Ehlo_Forces_Helo()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, simulation: Rules("refuse-starttls"));
        var refused = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], new LabClientOptions { StartTls = true }, CancellationToken.None);
        Assert.Equal("STARTTLS refused: 454 4.7.0 TLS not available due to temporary reason", refused.Error);
        Assert.True(refused.Ehlo!.Has("STARTTLS"), "the keyword is still offered: only the command is refused");
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Contains("SIMULATED middlebox: answered STARTTLS with 454 instead of forwarding it", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);

        await using var g = await RelayFixture.StartAsync(new LabServerOptions(), simulation: Rules("refuse-ehlo"));
        await using var client = await RawSmtpClient.ConnectAsync(g.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO esmtp.test\r\n");
        Assert.True(await client.ReadUntilAsync("500 5.5.1 Command unrecognized\r\n"));
        await client.SendAsync("HELO esmtp.test\r\nQUIT\r\n");
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("\r\n250 ", client.ReceivedText, StringComparison.Ordinal);
        Assert.Contains("\r\n221 ", client.ReceivedText, StringComparison.Ordinal);
        var helo = (await g.WaitForSessionsAsync(1)).Single();
        Assert.Contains("SIMULATED middlebox: refused EHLO so the client falls back to HELO: client sent \"EHLO esmtp.test\", middlebox answered \"500 5.5.1 Command unrecognized\"", g.ReadTranscript(helo.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upstream_Tls_Restriction_Is_Marked_Simulated_And_Offers_Only_Those_Versions()
    {
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") },
            tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa },
            simulation: Rules("upstream-tls=1.2:AES_128_GCM"));
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("restricted\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test" }, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var upstreamLeg = summary.TlsLegs.Single(l => l.Leg == "upstream");
        Assert.All(upstreamLeg.ClientHello!.CipherSuites.Where(s => s is not 0x00ff), s => Assert.Contains("AES_128_GCM", TlsNames.CipherSuite(s), StringComparison.Ordinal));
        Assert.Contains("SIMULATED TLS policy: the upstream leg offers upstream only TLSv1.2:AES_128_GCM", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lab_Upstream_Requiring_Tls_Makes_A_Plaintext_Sender_Defer_As_Exchange_Reports_It()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { RequireTlsReply = "451 5.7.3 Must issue a STARTTLS command first" });
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("plaintext\r\n")], new LabClientOptions(), CancellationToken.None);

        Assert.Equal("deferred: 451 4.4.0 Primary target IP address responded with: \"451 5.7.3 Must issue a STARTTLS command first.\" (MAIL FROM refused)", result.Fates.Single().Report);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Contains(summary.Findings, x => x.Code == SmtpLens.Findings.FindingCodes.TlsRequiredNotStarted);
    }

    [Fact]
    public async Task Legacy_Rc4_Client_Leg_Is_Dropped_Right_After_The_Handshake()
    {
        // Seed 002: an RC4-only sender completes the handshake, then the connection is closed before any reply.
        var rc4 = SimulationRules.Parse(["client-tls=1.0:RC4", "drop-after-handshake=RC4"]);
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") },
            tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa },
            simulation: rc4);
        var result = await LabSmtpClient.SendAsync(
            f.ProxyEndPoint,
            [TestMessages.Text("never delivered\r\n")],
            new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test", BouncyPolicy = TlsRestriction.Parse("1.0:RC4").Apply() },
            CancellationToken.None);

        Assert.False(result.Fates.Single().Delivered);
        Assert.Empty(f.Upstream!.Received);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.SimulatedDrop, summary.Reason);
        var clientLeg = summary.TlsLegs.Single(l => l.Leg == "client");
        Assert.Equal(0x0301, clientLeg.Version);
        Assert.Contains("RC4", TlsNames.CipherSuite(clientLeg.CipherSuite!.Value), StringComparison.Ordinal);
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("SIMULATED drop-after-handshake: closed the connection right after a completed handshake with TLS_", log, StringComparison.Ordinal);
        Assert.Contains("SIMULATED TLS policy: the client leg accepts from the client only TLSv1.0:RC4 instead of SmtpLens's normal policy", log, StringComparison.Ordinal);
        Assert.Contains("\"simulated\":true", f.ReadTranscript(summary.SessionId, ".jsonl"), StringComparison.Ordinal);
    }
}
