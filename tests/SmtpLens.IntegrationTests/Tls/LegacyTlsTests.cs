using Org.BouncyCastle.Tls;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.StateMachine;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>Seed 002: a TLS 1.0/RC4 appliance. OpenSSL 3 has no RC4, so both lab ends are BouncyCastle.</summary>
public sealed class LegacyTlsTests : IDisposable
{
    private static readonly TlsPolicy Rc4Only = new()
    {
        CipherSuites = [CipherSuite.TLS_RSA_WITH_RC4_128_SHA],
        MinimumVersion = 0x0301,
        MaximumVersion = 0x0301,
    };

    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private LabServerOptions Rc4Upstream() => new()
    {
        BouncyTls = (_pki.UpstreamCa.Issue("legacy.upstream.test", ["legacy.upstream.test"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30)), Rc4Only),
    };

    [Fact]
    public async Task Tls10_Rc4_Session_Is_Intercepted_With_Legacy_Enabled()
    {
        await using var f = await RelayFixture.StartAsync(Rc4Upstream(), tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa, ClientPolicy = TlsPolicy.Legacy, UpstreamPolicy = TlsPolicy.Legacy });
        var message = TestMessages.Text("from a Windows 2003 appliance\r\n");
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], new LabClientOptions { StartTls = true, BouncyPolicy = Rc4Only, TlsServerName = "legacy.upstream.test" }, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        Assert.Equal("TLSv1.0", result.TlsProtocol);
        Assert.Equal("TLS_RSA_WITH_RC4_128_SHA", result.TlsCipher);
        Assert.Equal(["TLSv1.0 TLS_RSA_WITH_RC4_128_SHA"], f.Upstream!.TlsSessions);
        Assert.Contains(TestMessages.Sha256(message.Content), f.Upstream.Received.Select(r => r.Sha256));
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("upstream leg: TLSv1.0 TLS_RSA_WITH_RC4_128_SHA", log, StringComparison.Ordinal);
        Assert.Contains("client leg: TLSv1.0 TLS_RSA_WITH_RC4_128_SHA", log, StringComparison.Ordinal);
        var offered = log.Split('\n').Single(l => l.Contains("* client offered:", StringComparison.Ordinal));
        Assert.Contains("client offered: max TLSv1.0, 2 suites (first TLS_RSA_WITH_RC4_128_SHA, TLS_EMPTY_RENEGOTIATION_INFO_SCSV)", offered, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rc4_Only_Upstream_Fails_Against_The_Modern_Default_And_The_Transcript_Says_Why()
    {
        await using var f = await RelayFixture.StartAsync(Rc4Upstream(), tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa });
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "legacy.upstream.test" }, CancellationToken.None);

        Assert.False(result.Fates.Single().Delivered);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.TlsHandshakeFailed, summary.Reason);
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("upstream leg: TLS handshake FAILED", log, StringComparison.Ordinal);
        Assert.Contains("SmtpLens offered upstream: max TLSv1.3", log, StringComparison.Ordinal);
    }
}
