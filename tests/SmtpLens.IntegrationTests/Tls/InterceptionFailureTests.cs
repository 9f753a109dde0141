using System.Security.Authentication;
using System.Text;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.StateMachine;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>What happens when TLS goes wrong: each case ends one session cleanly and says why.</summary>
public sealed class InterceptionFailureTests : IDisposable
{
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private TlsInterceptionOptions Intercept(TimeSpan? handshakeTimeout = null) =>
        new() { Authority = _pki.ProxyCa, HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task Upstream_Refusing_The_Handshake_Fails_The_Client_Handshake_With_An_Alert()
    {
        // The upstream accepts only TLS 1.3; SmtpLens is capped at TLS 1.2 (--tls-max-version 1.2).
        var cert = _pki.UpstreamCertificate("tls13only.upstream.test");
        var capped = TlsPolicy.Default.CappedAt(0x0303);
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = cert, TlsProtocols = SslProtocols.Tls13 }, tls: Intercept() with { ClientPolicy = capped, UpstreamPolicy = capped });
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "tls13only.upstream.test" }, CancellationToken.None);

        Assert.False(result.Fates.Single().Delivered);
        Assert.NotNull(result.Error);
        Assert.Empty(f.Upstream!.Received);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.TlsHandshakeFailed, summary.Reason);
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("upstream leg: TLS handshake FAILED", log, StringComparison.Ordinal);
        Assert.Contains("alert raised by the upstream during the handshake", log, StringComparison.Ordinal);
        Assert.Contains("client leg: not completed: the upstream handshake failed", log, StringComparison.Ordinal);
        Assert.Contains("SmtpLens sent the client a fatal", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_Upstream_Refuses_An_Untrusted_Upstream_And_Says_Why()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, tls: Intercept() with { VerifyUpstream = true });
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test" }, CancellationToken.None);

        Assert.False(result.Fates.Single().Delivered);
        Assert.Empty(f.Upstream!.Received);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.TlsHandshakeFailed, summary.Reason);
        var upstreamLeg = summary.TlsLegs.Single(l => l.Leg == "upstream");
        Assert.False(upstreamLeg.Completed);
        Assert.False(upstreamLeg.ChainTrusted);
        Assert.Contains(upstreamLeg.Alerts, a => a.RaisedBy == TlsSide.SmtpLens && a.Alert.Description == 42);
        Assert.Contains("--verify-upstream", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
        Assert.Contains(summary.ToLines(), l => l.StartsWith("TLS upstream leg: TLS handshake FAILED", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Upstream_Answering_StartTls_With_454_Is_Relayed_And_No_Tls_Happens()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test"), RefuseStartTls = true }, tls: Intercept());
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], new LabClientOptions { StartTls = true }, CancellationToken.None);

        Assert.Equal("STARTTLS refused: 454 4.7.0 TLS not available due to temporary reason", result.Error);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("S: 454 4.7.0 TLS not available due to temporary reason", log, StringComparison.Ordinal);
        Assert.DoesNotContain(" leg:", log, StringComparison.Ordinal);
        Assert.DoesNotContain("upstream accepted STARTTLS", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plaintext_Pipelined_After_StartTls_Is_Never_Forwarded()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") });
        upstream.Start();
        await using var tap = new ByteTap(upstream.EndPoint);
        await using var f = await RelayFixture.StartAsync(null, tap.EndPoint, tls: Intercept());
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO injector\r\n");
        Assert.True(await client.ReadUntilAsync("250 STARTTLS"));
        await client.SendAsync("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<victim@example.test>\r\n");
        Assert.True(await client.ReadUntilAsync("220 2.0.0"));
        client.Close();

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var fromProxy = Encoding.ASCII.GetString(tap.FromProxy);
        Assert.EndsWith("STARTTLS\r\n", fromProxy, StringComparison.Ordinal);
        Assert.DoesNotContain("injected@evil.test", fromProxy, StringComparison.Ordinal);
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("STARTTLS injection: client sent", log, StringComparison.Ordinal);
        Assert.Contains("MAIL FROM:<injected@evil.test>", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_Certificate_Is_Requested_And_Recorded_And_The_Transcript_Says_Upstream_Does_Not_See_It()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, tls: Intercept() with { RequestClientCertificate = true });
        var senderCa = CertificateAuthority.CreateEphemeral(TimeProvider.System, "Sender Org CA");
        var clientCert = senderCa.ToX509WithKey(senderCa.Issue("mx01.varunagroup.test", ["mx01.varunagroup.test", "*.varunagroup.test"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), clientAuth: true));
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], new LabClientOptions { StartTls = true, ClientCertificate = clientCert, TlsServerName = "mx.upstream.test" }, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("client leg client certificate [0]: subject CN=mx01.varunagroup.test SAN=[DNS:mx01.varunagroup.test, DNS:*.varunagroup.test] issuer \"CN=Sender Org CA, O=SmtpLens\"", log, StringComparison.Ordinal);
        Assert.Contains("note: the sender presented a client certificate; the upstream did not ask for one, so it sees none", log, StringComparison.Ordinal);
        Assert.Empty(f.Upstream!.ClientCertificateSubjects);
        senderCa.Dispose();
    }

    [Fact]
    public async Task Passthrough_Relays_Tls_Untouched_And_Records_The_Cleartext_Handshake()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test", "mx.upstream.test", "alt.upstream.test") }, tls: new TlsInterceptionOptions { Mode = TlsMode.Passthrough });
        var message = TestMessages.Text("passthrough\r\n");
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test", TlsProtocols = SslProtocols.Tls12 }, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        Assert.Equal(_pki.UpstreamCa.Certificate.Subject, result.ServerCertificate!.Issuer);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("client offered: max TLSv1.2", log, StringComparison.Ordinal);
        Assert.Contains("SNI mx.upstream.test", log, StringComparison.Ordinal);
        Assert.Contains("passthrough: TLSv1.2 TLS_", log, StringComparison.Ordinal);
        Assert.Contains("upstream certificate [0] (seen in passthrough): subject CN=mx.upstream.test SAN=[DNS:mx.upstream.test, DNS:alt.upstream.test]", log, StringComparison.Ordinal);
        Assert.DoesNotContain("MAIL FROM", log[log.IndexOf("C: STARTTLS", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Contains(TestMessages.Sha256(message.Content), f.Upstream!.Received.Select(r => r.Sha256));
    }

    [Fact]
    public async Task Garbage_Instead_Of_A_ClientHello_Ends_Only_That_Session()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, tls: Intercept());
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO x\r\nSTARTTLS\r\n");
        Assert.True(await client.ReadUntilAsync("220 2.0.0"));
        var good = LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("meanwhile\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test" }, CancellationToken.None);
        await client.SendAsync("MAIL FROM:<not-tls@example.test>\r\n");
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(10)));

        Assert.True((await good).Fates.Single().Delivered);
        var summaries = await f.WaitForSessionsAsync(2);
        var bad = summaries.Single(s => s.Reason == SessionEndReason.TlsProtocolError);
        Assert.Contains("expected a TLS ClientHello, got not a TLS record", f.ReadTranscript(bad.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silent_Client_After_StartTls_Hits_The_Handshake_Timeout()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, tls: Intercept(TimeSpan.FromSeconds(1)));
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO x\r\nSTARTTLS\r\n");
        Assert.True(await client.ReadUntilAsync("220 2.0.0"));
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(10)), "SmtpLens closes the session");

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.TlsProtocolError, summary.Reason);
        Assert.Contains("handshake timed out waiting for the client's ClientHello", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_Closing_Mid_ClientHello_Is_Reported()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, tls: Intercept());
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO x\r\nSTARTTLS\r\n");
        Assert.True(await client.ReadUntilAsync("220 2.0.0"));
        await client.SendAsync([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
        client.Close();

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.TlsProtocolError, summary.Reason);
        Assert.Contains("the client closed the connection in the middle of its ClientHello (11 bytes received)", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }
}
