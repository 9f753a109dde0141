using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Lab;
using SmtpLens.Net;
using SmtpLens.Probe;
using SmtpLens.StateMachine;

namespace SmtpLens.IntegrationTests.Probe;

/// <summary>The probe against scripted servers: what no healthy MTA does, but firewalls and broken servers do.</summary>
public sealed class ProbeEdgeCaseTests : IDisposable
{
    private const string Name = "mx.fake.test";
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Garbage_Instead_Of_A_Banner_Is_One_Clear_Error()
    {
        await using var server = ScriptedSmtpServer.Start(c => c.SendAsync("HTTP/1.1 400 Bad Request", "Content-Length: 0", ""));
        var main = await ProbeAsync(server);
        Assert.Equal("the server does not speak SMTP: expected a greeting, got \"HTTP/1.1 400 Bad Request\"", main.Error);
        Assert.Equal(2, ProbeOutcome.ExitCode([new HostProbe(main.Target, null, main, [])]));
        Assert.Contains(main.Events, e => e.Kind == "anomaly" && e.Text.Contains("not an SMTP reply", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_Silent_Server_Times_Out_With_One_Clear_Error()
    {
        await using var server = ScriptedSmtpServer.Start(c => Task.Delay(Timeout.Infinite, c.Stop));
        var main = await ProbeAsync(server, new ProbeOptions { Timeout = TimeSpan.FromSeconds(1) });
        Assert.Equal("no greeting within 1 s (the server is silent)", main.Error);
        Assert.Equal(SessionEndReason.IdleTimeout, main.End);
    }

    [Fact]
    public async Task A_Server_That_Vanishes_Before_Its_Banner_Is_One_Clear_Error()
    {
        await using var server = ScriptedSmtpServer.Start(_ => Task.CompletedTask);
        var main = await ProbeAsync(server);
        Assert.Equal("the server closed the connection before its greeting", main.Error);
    }

    [Fact]
    public async Task A_Closed_Port_Is_A_Connection_Error()
    {
        using var reserved = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        reserved.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)reserved.LocalEndPoint!).Port;
        var main = await new SmtpProbe(new ProbeOptions(), TimeProvider.System).RunAsync(new HostPort("127.0.0.1", port), null, CancellationToken.None);
        Assert.StartsWith("cannot connect: ConnectionRefused", main.Error, StringComparison.Ordinal);
        Assert.Equal(SessionEndReason.UpstreamUnreachable, main.End);
        Assert.Contains(main.Events, e => e.Kind == "upstream-failed");
    }

    [Fact]
    public async Task Cisco_Masking_Is_Seen_And_Forced_StartTls_Reaches_The_Masked_Command()
    {
        // An ASA with ESMTP inspection: banner in asterisks, STARTTLS overwritten, and the command itself masked
        // on its way in, so the server answers the XXXXXXXX it received.
        await using var server = ScriptedSmtpServer.Start(async c =>
        {
            await c.SendAsync("220 ****************************2*0***0****");
            await c.ExpectAsync("250-mx.fake.test Hello", "250-PIPELINING", "250-XXXXXXXA", "250 8BITMIME");
            await c.ExpectAsync("500 5.5.1 Command unrecognized: \"XXXXXXXX\"");
            await c.AnswerRestAsync();
        });
        var main = await ProbeAsync(server, new ProbeOptions { StartTls = StartTlsMode.Always });
        Assert.Null(main.Error);
        Assert.True(main.StartTlsAttempted);
        Assert.Equal(500, main.StartTlsReply!.Code);
        Assert.Equal("STARTTLS", server.Received[1]);
        var codes = main.Findings.Select(f => f.Code).ToList();
        Assert.Contains(FindingCodes.BannerMasked, codes);
        Assert.Contains(FindingCodes.EhloKeywordMasked, codes);
        Assert.Contains(FindingCodes.StartTlsNotOffered, codes);
        Assert.Contains(main.Findings, f => f.Code == FindingCodes.EhloKeywordMasked && f.Title.Contains("most likely STARTTLS", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_Server_That_Drops_Right_After_The_Handshake_Is_The_Seed_002_Finding()
    {
        using var certificate = _pki.UpstreamCertificate(Name);
        await using var server = ScriptedSmtpServer.Start(async c =>
        {
            await c.GreetOfferingStartTlsAsync(Name);
            await c.ExpectAsync("220 2.0.0 Ready to start TLS");
            await c.StartTlsAsync(certificate);
            await c.ReadLineAsync();

            // Hang up without answering EHLO: the connection just dies.
        });
        var main = await ProbeAsync(server, new ProbeOptions { ServerName = Name });
        Assert.Null(main.Error);
        Assert.True(main.Tls!.Completed);
        Assert.Equal("the server closed the connection right after the TLS handshake, before answering EHLO", main.Note);
        var finding = Assert.Single(main.Findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake);
        Assert.Equal(FindingLeg.Upstream, finding.Leg);
    }

    [Fact]
    public async Task A_Server_That_Hangs_After_The_Handshake_Is_A_Finding_Not_An_Error()
    {
        using var certificate = _pki.UpstreamCertificate(Name);
        await using var server = ScriptedSmtpServer.Start(async c =>
        {
            await c.GreetOfferingStartTlsAsync(Name);
            await c.ExpectAsync("220 2.0.0 Ready to start TLS");
            await c.StartTlsAsync(certificate);
            await Task.Delay(Timeout.Infinite, c.Stop);
        });
        // The timeout covers the handshake too: 1 s was too short for a BouncyCastle handshake on a loaded CI machine.
        var main = await ProbeAsync(server, new ProbeOptions { ServerName = Name, Timeout = TimeSpan.FromSeconds(5) });
        Assert.True(main.Error is null, string.Join("\n", main.Events.Select(e => $"{e.Seq} {e.Kind} {e.Text}")));
        Assert.Equal(SessionEndReason.IdleTimeout, main.End);
        Assert.Equal("the server went silent right after the TLS handshake and never answered EHLO", main.Note);
        Assert.Contains(main.Findings, f => f.Code == FindingCodes.TlsDroppedAfterHandshake && f.Title.Contains("hung", StringComparison.Ordinal));
        Assert.Equal(1, ProbeOutcome.ExitCode([new HostProbe(main.Target, null, main, [])]));
    }

    [Fact]
    public async Task A_Keyword_Offered_Only_Inside_Tls_Is_Reported()
    {
        using var certificate = _pki.UpstreamCertificate(Name);
        await using var server = ScriptedSmtpServer.Start(async c =>
        {
            await c.SendAsync($"220 {Name} ESMTP");
            await c.ExpectAsync($"250-{Name}", "250-PIPELINING", "250-XXXXXXXX", "250 STARTTLS");
            await c.ExpectAsync("220 2.0.0 Ready to start TLS");
            await c.StartTlsAsync(certificate);
            await c.ExpectAsync($"250-{Name}", "250-PIPELINING", "250-CHUNKING", "250 AUTH PLAIN");
            await c.AnswerRestAsync();
        });
        var main = await ProbeAsync(server, new ProbeOptions { ServerName = Name });
        Assert.Equal(["CHUNKING"], main.KeywordChanges.HiddenFromPlaintext.Select(k => k.Keyword));
        Assert.Contains(main.Findings, f => f.Code == FindingCodes.EhloKeywordOnlyInTls && f.Title.StartsWith("CHUNKING (masked as XXXXXXXX there)", StringComparison.Ordinal));
        Assert.Equal(["EHLO", "STARTTLS", "EHLO", "QUIT"], server.Received.Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public async Task Implicit_Tls_Handshakes_First_Then_Reads_The_Banner()
    {
        using var certificate = _pki.UpstreamCertificate(Name);
        await using var server = ScriptedSmtpServer.Start(async c =>
        {
            await c.StartTlsAsync(certificate);
            await c.SendAsync($"220 {Name} ESMTP");
            await c.ExpectAsync($"250-{Name}", "250-PIPELINING", "250 AUTH PLAIN");
            await c.AnswerRestAsync();
        });
        var main = await ProbeAsync(server, new ProbeOptions { ImplicitTls = true, ServerName = Name });
        Assert.Null(main.Error);
        Assert.True(main.Tls!.Completed);
        Assert.False(main.StartTlsAttempted);
        Assert.Equal($"220 {Name} ESMTP", main.Banner!.RawLines[0]);
        Assert.DoesNotContain(main.Findings, f => f.Code == FindingCodes.StartTlsNotOffered);
        Assert.Equal(221, main.QuitReply!.Code);
    }

    [Fact]
    public async Task Restricted_Offers_Show_What_The_Server_Accepts()
    {
        using var certificate = _pki.UpstreamCertificate(Name);
        await using var server = ScriptedSmtpServer.Start(async c =>
        {
            await c.GreetOfferingStartTlsAsync(Name);
            await c.ExpectAsync("220 2.0.0 Ready to start TLS");
            await c.StartTlsAsync(certificate, SslProtocols.Tls12);
            await c.AnswerRestAsync();
        });
        var offers = TlsOffers.Build(["tls1.0", "tls1.2"], []);
        var host = await new SmtpProbe(new ProbeOptions { ServerName = Name, Offers = offers, Timeout = TimeSpan.FromSeconds(10) }, TimeProvider.System)
            .ProbeHostAsync(new HostPort("127.0.0.1", server.Port), null, CancellationToken.None);
        Assert.Equal(2, host.Offers.Count);
        Assert.False(host.Offers[0].Tls!.Completed);
        Assert.StartsWith("refused: ", ProbeTextReport.OfferOutcome(host.Offers[0]), StringComparison.Ordinal);
        Assert.True(host.Offers[1].Tls!.Completed, host.Offers[1].Tls!.Failure);
        Assert.Equal(0x0303, host.Offers[1].Tls!.Version);

        // Offers never count toward the exit code: a refused TLS 1.0 is the answer asked for.
        Assert.Contains(host.Offers[0].Findings, f => f.Code == FindingCodes.TlsHandshakeFailed);
        Assert.DoesNotContain(ProbeOutcome.Counted([host]), f => f.Code == FindingCodes.TlsHandshakeFailed);
    }

    [Fact]
    public async Task An_Ipv6_Literal_Target_Is_Probed_Over_Ipv6()
    {
        await using var server = new LabSmtpServer(new LabServerOptions { Hostname = Name }, new IPEndPoint(IPAddress.IPv6Loopback, 0));
        server.Start();
        var target = HostPort.Parse($"[::1]:{server.EndPoint.Port}", "target");

        var main = await new SmtpProbe(new ProbeOptions { EhloName = "probe.client.test", Timeout = TimeSpan.FromSeconds(10) }, TimeProvider.System)
            .RunAsync(target, null, CancellationToken.None);

        Assert.Null(main.Error);
        Assert.Equal($"[::1]:{server.EndPoint.Port}", main.RemoteEndPoint);
        Assert.StartsWith("[::1]:", main.LocalEndPoint, StringComparison.Ordinal);
        Assert.Equal(Name, main.EhloBeforeTls?.Domain);
        Assert.Equal(SessionEndReason.Quit, main.End);
    }

    private static Task<ProbeSession> ProbeAsync(ScriptedSmtpServer server, ProbeOptions? options = null) =>
        new SmtpProbe((options ?? new ProbeOptions()) with { EhloName = "probe.client.test", Timeout = options?.Timeout ?? TimeSpan.FromSeconds(10) }, TimeProvider.System)
            .RunAsync(new HostPort("127.0.0.1", server.Port), null, CancellationToken.None);
}
