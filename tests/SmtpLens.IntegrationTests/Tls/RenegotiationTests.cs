using System.Diagnostics;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>A client that renegotiates mid-session: refused, recorded, session ended.</summary>
public sealed class RenegotiationTests : IDisposable
{
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Openssl_Renegotiation_Attempt_Is_Refused_Recorded_And_Ends_The_Session()
    {
        Assert.True(File.Exists("/usr/bin/openssl"), "openssl is required (Debian package openssl)");
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa });
        var start = new ProcessStartInfo("/usr/bin/openssl")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{f.ProxyEndPoint.Port}", "-servername", "mx.upstream.test", "-tls1_2" })
        {
            start.ArgumentList.Add(a);
        }

        using var openssl = Process.Start(start)!;
        var output = openssl.StandardOutput.ReadToEndAsync();
        var errors = openssl.StandardError.ReadToEndAsync();
        await Task.Delay(1500);
        await openssl.StandardInput.WriteLineAsync("R");
        await openssl.StandardInput.FlushAsync();
        var summary = (await f.WaitForSessionsAsync(1, TimeSpan.FromSeconds(20))).Single();
        openssl.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await openssl.WaitForExitAsync(cts.Token);

        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("client leg: TLSv1.2", log, StringComparison.Ordinal);
        // BouncyCastle refuses with a fatal alert (unexpected_message) rather than a no_renegotiation warning.
        Assert.Contains("alert raised by SmtpLens after the handshake (the client sent a handshake message after the handshake: a renegotiation attempt, which SmtpLens refuses; the session ends)", log, StringComparison.Ordinal);
        Assert.Equal(SmtpLens.StateMachine.SessionEndReason.ClientError, summary.Reason);
        Assert.Contains("RENEGOTIATING", await errors + await output, StringComparison.Ordinal);
        // SmtpLens ended the session; the finding must not say the client closed it.
        var dropped = Assert.Single(summary.Findings, x => x.Code == SmtpLens.Findings.FindingCodes.TlsDroppedAfterHandshake);
        Assert.Contains("the client attempted a renegotiation, which SmtpLens refuses", dropped.Title, StringComparison.Ordinal);
        Assert.DoesNotContain("closed the connection", dropped.Title, StringComparison.Ordinal);
    }
}
