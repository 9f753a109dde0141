using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.StateMachine;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>--mirror-client-cert: the upstream asks for a client certificate and gets a forgery of the sender's.</summary>
public sealed class ClientCertificateMirrorTests : IDisposable
{
    private readonly TlsTestPki _pki = new();
    private readonly CertificateAuthority _senderCa = CertificateAuthority.CreateEphemeral(TimeProvider.System, "Sender Org CA");

    public void Dispose()
    {
        _senderCa.Dispose();
        _pki.Dispose();
    }

    private TlsInterceptionOptions Mirror() =>
        new() { Authority = _pki.ProxyCa, UpstreamClientCertificate = UpstreamClientCertificate.Mirror };

    private X509Certificate2 SenderCertificate() =>
        _senderCa.ToX509WithKey(_senderCa.Issue(
            "mx01.varunagroup.test",
            ["DNS:mx01.varunagroup.test", "DNS:*.varunagroup.test", "email:postmaster@varunagroup.test"],
            DateTimeOffset.UtcNow.AddDays(-3),
            DateTimeOffset.UtcNow.AddDays(60),
            clientAuth: true));

    private static LabClientOptions StartTls(X509Certificate2? certificate) =>
        new() { StartTls = true, TlsServerName = "mx.upstream.test", ClientCertificate = certificate };

    [Theory]
    [InlineData(SslProtocols.Tls12 | SslProtocols.Tls13, "TLSv1.3")]
    [InlineData(SslProtocols.Tls12, "TLSv1.2")]
    public async Task The_Upstream_Sees_A_Forged_Certificate_With_The_Senders_Subject_And_Every_San(SslProtocols upstreamProtocols, string version)
    {
        // TLS 1.3 encrypts the upstream's CertificateRequest: the hold is keyed on the engine having processed it.
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test"), RequestClientCertificate = true, TlsProtocols = upstreamProtocols },
            tls: Mirror());
        using var sender = SenderCertificate();
        var message = TestMessages.Text("mirrored\r\n");
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], StartTls(sender), CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        Assert.Equal(TestMessages.Sha256(message.Content), f.Upstream!.Received.Single().Sha256);
        Assert.Equal("CN=mx01.varunagroup.test", Assert.Single(f.Upstream.ClientCertificateSubjects));

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var clientLeg = summary.TlsLegs.Single(l => l.Leg == "client");
        var upstreamLeg = summary.TlsLegs.Single(l => l.Leg == "upstream");
        var original = clientLeg.ClientCertificates[0];
        var presented = upstreamLeg.ClientCertificates[0];
        Assert.Equal(original.Subject, presented.Subject);
        Assert.Equal(["DNS:mx01.varunagroup.test", "DNS:*.varunagroup.test", "email:postmaster@varunagroup.test"], presented.SubjectAltNames);
        Assert.Equal(original.SubjectAltNames, presented.SubjectAltNames);
        Assert.Equal(_pki.ProxyCa.Certificate.Subject, presented.Issuer);
        Assert.NotEqual(original.Sha256Fingerprint, presented.Sha256Fingerprint);
        Assert.True(upstreamLeg.ClientCertificateRequested);
        Assert.True(clientLeg.ClientCertificateRequested);
        Assert.Equal(version, TlsNames.Version(upstreamLeg.Version!.Value));
        Assert.Equal(version, TlsNames.Version(clientLeg.Version!.Value));

        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("upstream leg SmtpLens client certificate [0]: subject CN=mx01.varunagroup.test", log, StringComparison.Ordinal);
        Assert.Contains("sees SmtpLens's forged copy of the sender's (CN=mx01.varunagroup.test, same SANs, issued by \"CN=SmtpLens Test Interception CA, O=SmtpLens\"), not the sender's own", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_Upstream_That_Asks_For_No_Certificate_Means_The_Sender_Is_Not_Asked_Either()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test") }, tls: Mirror());
        using var sender = SenderCertificate();
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("not asked\r\n")], StartTls(sender), CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var clientLeg = summary.TlsLegs.Single(l => l.Leg == "client");
        Assert.Equal(0x0304, clientLeg.Version);
        Assert.False(summary.TlsLegs.Single(l => l.Leg == "upstream").ClientCertificateRequested);
        Assert.False(clientLeg.ClientCertificateRequested);
        Assert.Empty(clientLeg.ClientCertificates);
        Assert.Empty(f.Upstream!.ClientCertificateSubjects);
    }

    [Fact]
    public async Task A_Sender_Without_A_Certificate_Gets_None_Presented_Upstream()
    {
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test"), RequestClientCertificate = true },
            tls: Mirror());
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("plain sender\r\n")], StartTls(null), CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Error);
        Assert.Empty(f.Upstream!.ClientCertificateSubjects);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Empty(summary.TlsLegs.Single(l => l.Leg == "upstream").ClientCertificates);
        Assert.Contains("the sender presented none, so SmtpLens presented none either", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls13_An_Upstream_That_Rejects_The_Forgery_Does_So_After_Its_Handshake_And_The_Session_Ends()
    {
        // TLS 1.3 (RFC 8446 4.4.2.4): the server judges the client certificate after the client's Finished, so the
        // upstream leg has completed when the refusal arrives; it is recorded as the upstream's alert after the handshake.
        var senderCaSubject = _senderCa.Certificate.Subject;
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions
            {
                BouncyTls = (_pki.UpstreamCa.Issue("mx.upstream.test", ["mx.upstream.test"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30)), TlsPolicy.Default),
                RequestClientCertificate = true,
                AcceptClientCertificate = c => c is not null && c.Issuer == senderCaSubject,
            },
            tls: Mirror());
        using var sender = SenderCertificate();
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], StartTls(sender), CancellationToken.None);

        Assert.False(result.Fates.Single().Delivered);
        Assert.Empty(f.Upstream!.Received);
        Assert.Equal("CN=mx01.varunagroup.test", Assert.Single(f.Upstream.ClientCertificateSubjects));
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.UpstreamError, summary.Reason);
        var upstreamLeg = summary.TlsLegs.Single(l => l.Leg == "upstream");
        Assert.Equal(0x0304, upstreamLeg.Version);
        Assert.Contains(upstreamLeg.Alerts, a => a.RaisedBy == TlsSide.Peer && a.Alert.Description == 42 && !a.DuringHandshake);
        Assert.Contains("upstream leg: fatal bad_certificate(42) alert raised by the upstream after the handshake", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_Upstream_That_Rejects_The_Forgery_Makes_The_Senders_Tls_Fail_Not_Succeed()
    {
        // TLS 1.2. The upstream trusts only the sender's real CA and refuses inside the handshake. The client leg has
        // finished by then, so SmtpLens must end it with a fatal alert rather than let the sender believe TLS worked.
        var senderCaSubject = _senderCa.Certificate.Subject;
        await using var f = await RelayFixture.StartAsync(
            new LabServerOptions
            {
                BouncyTls = (_pki.UpstreamCa.Issue("mx.upstream.test", ["mx.upstream.test"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30)), TlsPolicy.Default.CappedAt(0x0303)),
                RequestClientCertificate = true,
                AcceptClientCertificate = c => c is not null && c.Issuer == senderCaSubject,
            },
            tls: Mirror());
        using var sender = SenderCertificate();
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], StartTls(sender), CancellationToken.None);

        Assert.False(result.Fates.Single().Delivered);
        Assert.NotNull(result.Error);
        Assert.Empty(f.Upstream!.Received);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.TlsHandshakeFailed, summary.Reason);
        var clientLeg = summary.TlsLegs.Single(l => l.Leg == "client");
        Assert.Contains(clientLeg.Alerts, a => a.RaisedBy == TlsSide.SmtpLens && a.Alert.Level == 2 && !a.DuringHandshake);
        Assert.Equal("CN=mx01.varunagroup.test", Assert.Single(f.Upstream.ClientCertificateSubjects));
        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("upstream leg: TLS handshake FAILED: the peer sent a fatal bad_certificate alert", log, StringComparison.Ordinal);
        Assert.Contains("upstream leg SmtpLens client certificate [0]: subject CN=mx01.varunagroup.test", log, StringComparison.Ordinal);
        Assert.Contains("client leg: completed, but the upstream handshake then failed", log, StringComparison.Ordinal);
        Assert.Contains("SmtpLens ended the client's TLS session with a fatal", log, StringComparison.Ordinal);
    }
}
