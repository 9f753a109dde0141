using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.StateMachine;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>STARTTLS and implicit TLS interception between a test client and a test upstream on loopback.</summary>
public sealed class InterceptionTests : IDisposable
{
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private static IReadOnlyList<JsonElement> Events(RelayFixture f, string session) =>
        [.. f.ReadTranscript(session, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];

    [Fact]
    public async Task StartTls_Is_Intercepted_With_A_Mirrored_Certificate_And_Decrypted_Transcript()
    {
        var upstreamCert = _pki.UpstreamCertificate("mx.upstream.test", "mx.upstream.test", "mail.upstream.test");
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = upstreamCert }, tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa });
        var message = TestMessages.Text("secret content inside TLS\r\n", "over TLS");

        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test" }, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail + result.Error);
        await f.Upstream!.WaitForMessagesAsync(1, TimeSpan.FromSeconds(5));
        Assert.Contains(TestMessages.Sha256(message.Content), f.Upstream.Received.Select(r => r.Sha256));

        // The client saw SmtpLens's forgery: the upstream's names, our CA's signature.
        var seen = result.ServerCertificate!;
        Assert.Equal("CN=mx.upstream.test", seen.Subject);
        Assert.Equal(_pki.ProxyCa.Certificate.Subject, seen.Issuer);
        var sans = seen.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames().ToList();
        Assert.Equal(["mx.upstream.test", "mail.upstream.test"], sans);

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.Quit, summary.Reason);
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("C: STARTTLS", log, StringComparison.Ordinal);
        Assert.Contains("S: 220 2.0.0 Ready to start TLS", log, StringComparison.Ordinal);
        Assert.Contains("*   | Subject: over TLS", log, StringComparison.Ordinal);
        Assert.Contains("client leg SmtpLens certificate [0]: subject CN=mx.upstream.test SAN=[DNS:mx.upstream.test, DNS:mail.upstream.test] issuer \"CN=SmtpLens Test Interception CA, O=SmtpLens\"", log, StringComparison.Ordinal);
        Assert.Contains("upstream leg upstream certificate [0]: subject CN=mx.upstream.test SAN=[DNS:mx.upstream.test, DNS:mail.upstream.test] issuer \"CN=Test Upstream Root CA, O=SmtpLens\"", log, StringComparison.Ordinal);
        Assert.True(log.IndexOf("C: MAIL FROM:<sender@example.test>", StringComparison.Ordinal) > log.IndexOf("C: STARTTLS", StringComparison.Ordinal));

        var events = Events(f, summary.SessionId);
        var legs = events.Where(e => e.GetProperty("kind").GetString() == "tls" && e.TryGetProperty("data", out var d) && d.TryGetProperty("leg", out _)).Select(e => e.GetProperty("data")).ToList();
        var upstreamLeg = legs.Single(l => l.GetProperty("leg").GetString() == "upstream");
        var clientLeg = legs.Single(l => l.GetProperty("leg").GetString() == "client");
        // Both lab peers speak TLS 1.3, so both legs do by default, with the suite the upstream chose on both.
        Assert.Equal("TLSv1.3", upstreamLeg.GetProperty("version").GetString());
        Assert.Equal("TLSv1.3", clientLeg.GetProperty("version").GetString());
        Assert.StartsWith("TLS_AES_", upstreamLeg.GetProperty("cipherSuite").GetString(), StringComparison.Ordinal);
        Assert.Equal(upstreamLeg.GetProperty("cipherSuite").GetString(), clientLeg.GetProperty("cipherSuite").GetString());
        Assert.False(string.IsNullOrEmpty(upstreamLeg.GetProperty("group").GetString()));
        Assert.Equal("CN=mx.upstream.test", upstreamLeg.GetProperty("serverCertificates")[0].GetProperty("subject").GetString());
        Assert.False(upstreamLeg.GetProperty("chainTrusted").GetBoolean(), "the test upstream CA is not in the system store");
        Assert.True(upstreamLeg.GetProperty("nameMatches").GetBoolean());
        Assert.Equal("mx.upstream.test", clientLeg.GetProperty("clientHello").GetProperty("sni").GetString());
        Assert.Contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", clientLeg.GetProperty("clientHello").GetProperty("cipherSuites").EnumerateArray().Select(s => s.GetString()));
        Assert.Matches("^[0-9a-f]{32}$", clientLeg.GetProperty("clientHello").GetProperty("ja3Hash").GetString()!);
    }

    [Fact]
    public async Task Forged_Leaf_Is_Ecdsa_P256_For_A_Tls13_Client_That_Accepts_It_And_Rsa_For_One_That_Does_Not()
    {
        var upstreamCert = _pki.UpstreamCertificate("mx.upstream.test");
        var tls13 = TlsPolicy.Parse(false, ["tls1.2", "tls1.3"], null);
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = upstreamCert }, tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa, ClientPolicy = tls13, UpstreamPolicy = tls13 });

        // OpenSSL's TLS 1.3 client accepts ecdsa_secp256r1_sha256; a TLS 1.2 client offering only an RSA suite cannot
        // take an ECDSA leaf (and with an RSA upstream, TLS 1.2 keeps RSA anyway, so the suite stays the real one).
        var ecClient = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("ec\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test", TlsProtocols = System.Security.Authentication.SslProtocols.Tls13 }, CancellationToken.None);
        var rsaOnly = TlsPolicy.Default with { CipherSuites = [Org.BouncyCastle.Tls.CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384], MaximumVersion = 0x0303 };
        var rsaClient = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("rsa\r\n")], new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test", BouncyPolicy = rsaOnly }, CancellationToken.None);

        Assert.True(ecClient.Fates.Single().Delivered, ecClient.Fates.Single().Detail + ecClient.Error);
        Assert.True(rsaClient.Fates.Single().Delivered, rsaClient.Fates.Single().Detail + rsaClient.Error);
        using (var ecKey = ecClient.ServerCertificate!.GetECDsaPublicKey())
        {
            Assert.Equal(256, ecKey?.KeySize);
        }

        using (var rsaKey = rsaClient.ServerCertificate!.GetRSAPublicKey())
        {
            Assert.NotNull(rsaKey);
        }

        Assert.Equal("CN=mx.upstream.test", ecClient.ServerCertificate!.Subject);
        Assert.Equal("CN=mx.upstream.test", rsaClient.ServerCertificate!.Subject);
        Assert.Equal("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", rsaClient.TlsCipher);

        // TLS 1.3 suites do not name the key: the ECDSA client leg still negotiates the upstream's suite.
        var sessions = await f.WaitForSessionsAsync(2);
        var legs = sessions.Select(s => Events(f, s.SessionId).Where(e => e.GetProperty("kind").GetString() == "tls" && e.TryGetProperty("data", out var d) && d.TryGetProperty("leg", out _)).Select(e => e.GetProperty("data")).ToList())
            .Single(l => l.Any(d => d.GetProperty("leg").GetString() == "client" && d.GetProperty("version").GetString() == "TLSv1.3"));
        var upstreamSuite = legs.Single(l => l.GetProperty("leg").GetString() == "upstream").GetProperty("cipherSuite").GetString();
        Assert.Equal(upstreamSuite, legs.Single(l => l.GetProperty("leg").GetString() == "client").GetProperty("cipherSuite").GetString());
    }

    [Fact]
    public async Task Implicit_Tls_Listener_Handshakes_From_The_First_Byte()
    {
        var upstreamCert = _pki.UpstreamCertificate("smtps.upstream.test");
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = upstreamCert, ImplicitTls = true }, tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa }, implicitTls: true);
        var message = TestMessages.Text("implicit\r\n");
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], new LabClientOptions { ImplicitTls = true, TlsServerName = "smtps.upstream.test" }, CancellationToken.None);
        Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail + result.Error);
        Assert.Equal("CN=smtps.upstream.test", result.ServerCertificate!.Subject);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Contains("S: 220 lab-upstream.smtplens.test", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }
}
