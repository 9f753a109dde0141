using System.Net;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.StateMachine;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>
/// STARTTLS interception with real TLS stacks on both sides: swaks, openssl s_client and a Postfix smtp client
/// (all OpenSSL) in front of SmtpLens, a Postfix smtpd with a run-time certificate behind it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TlsRealPeerTests : IDisposable
{
    private const string UpstreamCn = "mx.tls-upstream.test";
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    // Two DNS names and an IP: every SAN type must survive the mirroring.
    private static readonly string[] UpstreamSans = [UpstreamCn, "smtp.tls-upstream.test", "IP:127.0.0.1"];

    /// <summary>--tls-max-version 1.2: for what only TLS 1.2 shows (suites that name the key, CLIENT_RANDOM).</summary>
    private static readonly TlsPolicy Tls12Only = TlsPolicy.Default.CappedAt(0x0303);

    private readonly TlsTestPki _pki = new();
    private readonly UpstreamTlsFiles _files;

    public TlsRealPeerTests() => _files = UpstreamTlsFiles.Write(_pki, UpstreamCn, UpstreamSans);

    public void Dispose()
    {
        _files.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task Swaks_StartTls_Through_SmtpLens_To_Postfix_Is_Intercepted()
    {
        await using var postfix = await StartUpstreamAsync();
        await using var proxy = await ProxyTo(postfix);
        var message = Message("swaks STARTTLS intercepted");
        var peerCertificate = Path.Combine(_files.Directory, "swaks-peer.pem");

        // --tls-verify with only the SmtpLens CA as trust anchor: OpenSSL itself must accept the forged chain.
        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions
        {
            From = "alice@client.test",
            To = ["bob@example.test"],
            Message = message,
            Tls = SwaksTls.StartTls,
            TlsVerify = true,
            TlsCaPath = _files.ProxyCaFile,
            ExtraArguments = ["--tls-get-peer-cert", peerCertificate],
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        Assert.Contains("TLS started with cipher TLSv1.3:", swaks.Output, StringComparison.Ordinal);
        Assert.Contains($"TLS peer DN=\"/CN={UpstreamCn}\"", swaks.Output, StringComparison.Ordinal);

        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal("alice@client.test", delivery.Sender);
        Assert.Equal("bob@example.test", delivery.Recipient);
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await postfix.WaitForLogLinesAsync("TLS connection established from unknown[127.0.0.1]");

        // The certificate swaks saw: the upstream's names, SmtpLens's key and signature.
        using (var seen = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(peerCertificate)))
        {
            Assert.Equal($"CN={UpstreamCn}", seen.Subject);
            Assert.Equal(_pki.ProxyCa.Certificate.Subject, seen.Issuer);
            Assert.Equal(SubjectAltNames(_files.Certificate), SubjectAltNames(seen));
            Assert.NotEqual(_files.Certificate.GetPublicKeyString(), seen.GetPublicKeyString());
        }

        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        Assert.Equal(SessionEndReason.Quit, summary.Reason);
        var transaction = Assert.Single(summary.Transactions);
        Assert.True(transaction.Accepted);
        Assert.Equal(TestMessages.Sha256(message), transaction.Sha256);

        // The transcript was written from the decrypted streams: the transaction follows STARTTLS.
        var log = proxy.ReadTranscript(summary.SessionId, ".log");
        var startTls = log.IndexOf("C: STARTTLS", StringComparison.Ordinal);
        Assert.True(startTls >= 0, log);
        Assert.Contains("S: 220 2.0.0 Ready to start TLS", log, StringComparison.Ordinal);
        Assert.True(log.IndexOf("C: MAIL FROM:<alice@client.test>", StringComparison.Ordinal) > startTls, log);
        Assert.True(log.IndexOf("C: RCPT TO:<bob@example.test>", StringComparison.Ordinal) > startTls, log);
        Assert.True(log.IndexOf("*   | Subject: swaks STARTTLS intercepted", StringComparison.Ordinal) > startTls, log);
        Assert.Equal(2, CountOf(log, "C: EHLO swaks.client.test"));

        var legs = TlsLegs(proxy, summary.SessionId);
        var clientLeg = legs["client"];
        var upstreamLeg = legs["upstream"];
        Assert.True(clientLeg.GetProperty("completed").GetBoolean());
        Assert.True(upstreamLeg.GetProperty("completed").GetBoolean());
        Assert.Equal("TLSv1.3", clientLeg.GetProperty("version").GetString());
        Assert.Equal("TLSv1.3", upstreamLeg.GetProperty("version").GetString());
        Assert.Equal($"CN={UpstreamCn}", upstreamLeg.GetProperty("serverCertificates")[0].GetProperty("subject").GetString());
        Assert.Equal(_pki.UpstreamCa.Certificate.Subject, upstreamLeg.GetProperty("serverCertificates")[0].GetProperty("issuer").GetString());
        Assert.Equal(_pki.ProxyCa.Certificate.Subject, clientLeg.GetProperty("serverCertificates")[0].GetProperty("issuer").GetString());
    }

    [Fact]
    public async Task Swaks_StartTls_To_Postfix_With_Ecdsa_Certificate_Is_Intercepted()
    {
        // The harness's own certificate is ECDSA P-256, as many real MX certificates are; SmtpLens's forged
        // leaves carry an RSA key, so the client leg must not simply copy the upstream's ECDSA suite.
        // TLS 1.2, where the suite names the certificate key.
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "upstream", SelfSignedTls = true });
        await using var proxy = await ProxyTo(postfix, policy: Tls12Only);
        var message = Message("ECDSA upstream intercepted");

        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions
        {
            Message = message,
            Tls = SwaksTls.StartTls,
            TlsVerify = true,
            TlsCaPath = _files.ProxyCaFile,
        });

        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        Assert.True(swaks.Succeeded, $"{swaks}\n--- SmtpLens transcript ---\n{proxy.ReadTranscript(summary.SessionId, ".log")}");
        Assert.Contains($"TLS peer DN=\"/CN=postfix.{PostfixInstance.HarnessDomain}\"", swaks.Output, StringComparison.Ordinal);
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);

        var legs = TlsLegs(proxy, summary.SessionId);
        Assert.StartsWith("TLS_ECDHE_ECDSA_", legs["upstream"].GetProperty("cipherSuite").GetString(), StringComparison.Ordinal);
        Assert.True(legs["client"].GetProperty("completed").GetBoolean());
        Assert.Equal("TLSv1.2", legs["client"].GetProperty("version").GetString());
    }

    [Fact]
    public async Task OpenSsl_SClient_StartTls_Sees_Mirrored_Certificate_Issued_By_SmtpLens_Ca()
    {
        const string serverName = "smtp.tls-upstream.test";
        await using var postfix = await StartUpstreamAsync();
        await using var proxy = await ProxyTo(postfix);

        // OpenSSL checks the chain against the SmtpLens CA alone and the name against the SNI it sent.
        var sClient = await OpenSsl.RunAsync(
            [
                "s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{proxy.ProxyEndPoint.Port}",
                "-servername", serverName, "-showcerts", "-CAfile", _files.ProxyCaFile,
                "-verify_return_error", "-verify_hostname", serverName, "-crlf", "-nocommands",
            ],
            stdin: "QUIT\n");

        Assert.True(sClient.ExitCode == 0 && !sClient.TimedOut, $"openssl s_client failed:\n{sClient.CommandLine}\n{sClient.Output}");
        Assert.Contains("Verify return code: 0 (ok)", sClient.Output, StringComparison.Ordinal);
        Assert.Contains($"Verified peername: {serverName}", sClient.Output, StringComparison.Ordinal);
        Assert.Contains("New, TLSv1.3, Cipher is TLS_", sClient.Output, StringComparison.Ordinal);

        var chain = PemBlocks(sClient.StandardOutput);
        Assert.Equal(2, chain.Count);
        var forged = Path.Combine(_files.Directory, "s_client-leaf.pem");
        var caSent = Path.Combine(_files.Directory, "s_client-ca.pem");
        await File.WriteAllTextAsync(forged, chain[0]);
        await File.WriteAllTextAsync(caSent, chain[1]);

        // openssl's own reading of the forged leaf next to the upstream's real one.
        var seen = await X509TextAsync(forged);
        var real = await X509TextAsync(_files.CertificateFile);
        Assert.Equal(real.Subject, seen.Subject);
        Assert.Equal($"subject=CN={UpstreamCn}", seen.Subject);
        Assert.Equal(real.SubjectAltName, seen.SubjectAltName);
        Assert.Equal($"DNS:{UpstreamCn}, DNS:smtp.tls-upstream.test, IP Address:127.0.0.1", seen.SubjectAltName);
        Assert.Equal("issuer=CN=SmtpLens Test Interception CA,O=SmtpLens", seen.Issuer);
        Assert.Equal("issuer=CN=Test Upstream Root CA,O=SmtpLens", real.Issuer);
        Assert.Equal((await X509TextAsync(_files.ProxyCaFile)).Subject, (await X509TextAsync(caSent)).Subject);

        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        var legs = TlsLegs(proxy, summary.SessionId);
        Assert.Equal(serverName, legs["client"].GetProperty("clientHello").GetProperty("sni").GetString());

        // The client's SNI is what SmtpLens asks the upstream for.
        Assert.Equal(serverName, legs["upstream"].GetProperty("clientHello").GetProperty("sni").GetString());
        Assert.True(legs["upstream"].GetProperty("nameMatches").GetBoolean());
        Assert.Contains("C: QUIT", proxy.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postfix_Smtp_Client_With_Tls_Encrypt_Through_SmtpLens_Is_Intercepted()
    {
        await using var target = await StartUpstreamAsync("target");
        await using var proxy = await ProxyTo(target);
        await using var sender = await PostfixInstance.StartRelayAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new PostfixOptions
        {
            Name = "sender",
            MainCf = new Dictionary<string, string>
            {
                ["smtp_tls_security_level"] = "encrypt",
                ["smtp_tls_loglevel"] = "1",

                // At "encrypt" Postfix also offers anonymous DH, which a TLS 1.2 Postfix smtpd prefers, and SmtpLens now
                // mirrors (no certificate at all); this test is about the forged chain, so the sender asks for one.
                ["smtp_tls_exclude_ciphers"] = "aNULL",

                // Encrypt does not require trust, but with the SmtpLens CA as CAfile Postfix logs whether it had it.
                ["smtp_tls_CAfile"] = _files.ProxyCaFile,
            },
        });
        var message = Message("Postfix smtp client, TLS encrypt, intercepted");

        var swaks = await Swaks.SendAsync(sender.Host, sender.Port, new SwaksOptions { From = "carol@client.test", To = ["dave@example.test"], Message = message });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await target.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal("carol@client.test", delivery.Sender);
        Assert.Equal("dave@example.test", delivery.Recipient);
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);

        // The sender's TLS session ends at SmtpLens, with a chain that verifies to the SmtpLens CA.
        var established = Assert.Single(await sender.WaitForLogLinesAsync($"TLS connection established to 127.0.0.1[127.0.0.1]:{proxy.ProxyEndPoint.Port}: TLSv1.3"));
        Assert.Contains("Trusted TLS connection established", established, StringComparison.Ordinal);
        await sender.WaitForLogLinesAsync($"relay=127.0.0.1[127.0.0.1]:{proxy.ProxyEndPoint.Port}, ");
        await sender.WaitForLogLinesAsync("status=sent");
        await target.WaitForLogLinesAsync("TLS connection established from unknown[127.0.0.1]");
        Assert.StartsWith($"Received: from {sender.Hostname}", Encoding.Latin1.GetString(delivery.Raw), StringComparison.Ordinal);
        Assert.Contains("with ESMTPS", Encoding.Latin1.GetString(delivery.Raw).Split("\nReceived:")[0], StringComparison.Ordinal);

        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        Assert.Equal(sender.Hostname, summary.EhloName);
        var transaction = Assert.Single(summary.Transactions);
        Assert.True(transaction.Accepted);
        Assert.Equal(1, transaction.RecipientsAccepted);

        var log = proxy.ReadTranscript(summary.SessionId, ".log");
        var startTls = log.IndexOf("C: STARTTLS", StringComparison.Ordinal);
        Assert.True(startTls >= 0, log);
        Assert.Equal(2, CountOf(log, $"C: EHLO {sender.Hostname}"));
        Assert.True(log.LastIndexOf($"C: EHLO {sender.Hostname}", StringComparison.Ordinal) > startTls, log);
        Assert.True(log.IndexOf("C: MAIL FROM:<carol@client.test>", StringComparison.Ordinal) > startTls, log);
        Assert.True(log.IndexOf("C: RCPT TO:<dave@example.test>", StringComparison.Ordinal) > startTls, log);
        Assert.True(log.IndexOf("*   | Subject: Postfix smtp client, TLS encrypt, intercepted", StringComparison.Ordinal) > startTls, log);

        var legs = TlsLegs(proxy, summary.SessionId);
        Assert.Equal("TLSv1.3", legs["client"].GetProperty("version").GetString());
        Assert.Equal("TLSv1.3", legs["upstream"].GetProperty("version").GetString());
    }

    [Fact]
    public async Task Postfix_Smtp_Client_With_A_Session_Cache_Resumes_The_Client_Leg_On_Its_Second_Delivery()
    {
        // TLS 1.2 (SmtpLens resumes by session ID only); the sender caches sessions in tlsmgr's database, as Debian's does.
        await using var target = await StartUpstreamAsync("target");
        await using var proxy = await ProxyTo(target, policy: Tls12Only);
        await using var sender = await PostfixInstance.StartRelayAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new PostfixOptions
        {
            Name = "sender",
            MainCf = new Dictionary<string, string>
            {
                ["smtp_tls_security_level"] = "encrypt",
                ["smtp_tls_loglevel"] = "1",
                ["smtp_tls_exclude_ciphers"] = "aNULL",
                ["smtp_tls_session_cache_database"] = "btree:${data_directory}/smtp_scache",

                // Each delivery on its own connection, so the second one has a TLS session to resume.
                ["smtp_connection_cache_on_demand"] = "no",
            },
        });

        for (var i = 1; i <= 2; i++)
        {
            var swaks = await Swaks.SendAsync(sender.Host, sender.Port, new SwaksOptions { From = "carol@client.test", To = ["dave@example.test"], Message = Message($"resumption {i}") });
            Assert.True(swaks.Succeeded, swaks.ToString());
            await target.WaitForDeliveriesAsync(i, DeliveryTimeout);
            await sender.WaitForLogLinesAsync("status=sent", count: i);
        }

        var summaries = await proxy.WaitForSessionsAsync(2);
        var legs = summaries.OrderBy(s => proxy.ReadTranscript(s.SessionId, ".log").Contains("Subject: resumption 2", StringComparison.Ordinal)).Select(s => TlsLegs(proxy, s.SessionId)).ToList();
        Assert.False(legs[0]["client"].GetProperty("resumed").GetBoolean());
        Assert.True(legs[1]["client"].GetProperty("resumed").GetBoolean(), $"{legs[1]["client"]}\n{await sender.ReadLogAsync()}");
        Assert.Equal("TLSv1.2", legs[1]["client"].GetProperty("version").GetString());
        Assert.All(legs, l => Assert.False(l["upstream"].GetProperty("resumed").GetBoolean()));
        Assert.All(legs, l => Assert.Equal($"CN={UpstreamCn}", l["upstream"].GetProperty("serverCertificates")[0].GetProperty("subject").GetString()));
    }

    [Fact]
    public async Task KeyLog_Lets_Tshark_Decrypt_Both_Legs_Of_A_Swaks_StartTls_Capture()
    {
        Tshark.EnsureAvailable();
        await using var postfix = await StartUpstreamAsync();
        var keyLogPath = Path.Combine(_files.Directory, "keys.log");
        using var keyLog = new NssKeyLog(keyLogPath);
        await using var proxy = await ProxyTo(postfix, keyLog, Tls12Only);
        var clientPort = proxy.ProxyEndPoint.Port;
        var capturePath = Path.Combine(_files.Directory, "capture.pcapng");
        var message = Message("decrypted from a capture");

        await using (var capture = await Tshark.CaptureAsync(capturePath, clientPort, postfix.Port))
        {
            var swaks = await Swaks.SendAsync("127.0.0.1", clientPort, new SwaksOptions
            {
                From = "erin@client.test",
                To = ["frank@example.test"],
                Message = message,
                Tls = SwaksTls.StartTls,
            });
            Assert.True(swaks.Succeeded, swaks.ToString());
            Assert.Single(await proxy.WaitForSessionsAsync(1));
            await capture.StopAsync();
        }

        Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        var sessionId = Assert.Single(await proxy.WaitForSessionsAsync(1)).SessionId;

        // Session secrets: only the owner may read them.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyLogPath));
        var keyLines = (await File.ReadAllLinesAsync(keyLogPath)).Where(l => l.Length > 0).ToList();
        Assert.Equal(2, keyLines.Count(l => l.StartsWith("CLIENT_RANDOM ", StringComparison.Ordinal)));
        Assert.Contains($"# {sessionId} client leg", keyLines);
        Assert.Contains($"# {sessionId} upstream leg", keyLines);
        Assert.All(keyLines.Where(l => l.StartsWith("CLIENT_RANDOM ", StringComparison.Ordinal)), l => Assert.Matches("^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$", l));

        var ports = new[] { clientPort, postfix.Port };
        var decrypted = await Tshark.ReadAsync(capturePath, keyLogPath, "smtp.req", "smtp.command_line", ports);
        var opaque = await Tshark.ReadAsync(capturePath, null, "smtp.req", "smtp.command_line", ports);
        var subjects = await Tshark.ReadAsync(capturePath, keyLogPath, "imf", "imf.subject", ports);
        var hiddenSubjects = await Tshark.ReadAsync(capturePath, null, "imf", "imf.subject", ports);
        string[] beforeTls = ["EHLO swaks.client.test", "STARTTLS"];
        string[] all = [.. beforeTls, "EHLO swaks.client.test", "MAIL FROM:<erin@client.test>", "RCPT TO:<frank@example.test>", "DATA", "QUIT"];
        foreach (var port in ports)
        {
            var leg = port == clientPort ? "client leg (swaks -> SmtpLens)" : "upstream leg (SmtpLens -> Postfix)";
            var show = $"{leg}, port {port}\nwith key log: {Describe(decrypted)}\nwithout: {Describe(opaque)}";

            // Cleartext before TLS is readable either way; the transaction and the message only with the key log.
            Assert.True(opaque.Where(c => c.Port == port).Select(c => c.Value).SequenceEqual(beforeTls), show);
            Assert.True(decrypted.Where(c => c.Port == port).Select(c => c.Value).SequenceEqual(all), show);
            Assert.Equal(["decrypted from a capture"], subjects.Where(s => s.Port == port).Select(s => s.Value));
        }

        Assert.Empty(hiddenSubjects);
    }

    [Fact]
    public async Task Postfix_Asking_For_A_Client_Certificate_Sees_SmtpLens_Mirror_Of_The_Swaks_Certificate()
    {
        // The sender's own certificate, from its own CA; Postfix trusts only SmtpLens's CA, which shows in its header.
        using var senderCa = CertificateAuthority.CreateEphemeral(TimeProvider.System, "Sender Org CA");
        var now = DateTimeOffset.UtcNow;
        using var sender = senderCa.ToX509WithKey(senderCa.Issue("mx01.sender.test", ["mx01.sender.test", "email:postmaster@sender.test"], now.AddDays(-2), now.AddDays(20), clientAuth: true));
        var senderCertFile = Path.Combine(_files.Directory, "sender-cert.pem");
        var senderKeyFile = Path.Combine(_files.Directory, "sender-key.pem");
        await File.WriteAllTextAsync(senderCertFile, sender.ExportCertificatePem() + "\n");
        using (var key = sender.GetRSAPrivateKey()!)
        {
            PemFiles.WritePrivate(senderKeyFile, key.ExportPkcs8PrivateKeyPem());
        }

        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            Name = "ccert",
            TlsCertificateFile = _files.CertificateFile,
            TlsKeyFile = _files.KeyFile,
            MainCf = new Dictionary<string, string>
            {
                ["smtpd_tls_ask_ccert"] = "yes",
                ["smtpd_tls_received_header"] = "yes",
                ["smtpd_tls_CAfile"] = _files.ProxyCaFile,
            },
        });
        await using var proxy = await RelayFixture.StartAsync(
            null,
            new IPEndPoint(IPAddress.Loopback, postfix.Port),
            tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa, UpstreamClientCertificate = UpstreamClientCertificate.Mirror });
        var message = Message("mirrored client certificate");
        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions
        {
            From = "carol@sender.test",
            To = ["dave@example.test"],
            Message = message,
            Tls = SwaksTls.StartTls,
            TlsCertificateFile = senderCertFile,
            TlsKeyFile = senderKeyFile,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);

        // Postfix's own Received header names the certificate it saw: the sender's CN, SmtpLens's CA.
        var received = Encoding.Latin1.GetString(delivery.Raw);
        Assert.Contains("Client CN \"mx01.sender.test\", Issuer \"SmtpLens Test Interception CA\" (verified OK)", received, StringComparison.Ordinal);

        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        var legs = TlsLegs(proxy, summary.SessionId);
        Assert.Equal("CN=mx01.sender.test", legs["client"].GetProperty("clientCertificates")[0].GetProperty("subject").GetString());
        Assert.Equal("Sender Org CA", senderCa.Certificate.GetNameInfo(X509NameType.SimpleName, false));
        var presented = legs["upstream"].GetProperty("clientCertificates")[0];
        Assert.Equal("CN=mx01.sender.test", presented.GetProperty("subject").GetString());
        Assert.Equal(["DNS:mx01.sender.test", "email:postmaster@sender.test"], presented.GetProperty("san").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(_pki.ProxyCa.Certificate.Subject, presented.GetProperty("issuer").GetString());
        Assert.Contains("sees SmtpLens's forged copy of the sender's (CN=mx01.sender.test", proxy.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    private Task<PostfixInstance> StartUpstreamAsync(string name = "upstream") =>
        PostfixInstance.StartAsync(new PostfixOptions { Name = name, TlsCertificateFile = _files.CertificateFile, TlsKeyFile = _files.KeyFile });

    /// <param name="policy">Both legs' policy; the default speaks TLS 1.3 where the peers do.</param>
    private Task<RelayFixture> ProxyTo(PostfixInstance postfix, NssKeyLog? keyLog = null, TlsPolicy? policy = null) =>
        RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, postfix.Port), tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa, KeyLog = keyLog, ClientPolicy = policy ?? TlsPolicy.Default, UpstreamPolicy = policy ?? TlsPolicy.Default });


    private static byte[] Message(string subject) => PeerMessages.Sample(subject, "Grüße, 8-bit text inside TLS\r\n" + new string('x', 900) + "\r\n");

    private static Dictionary<string, JsonElement> TlsLegs(RelayFixture proxy, string sessionId)
    {
        var jsonl = proxy.ReadTranscript(sessionId, ".jsonl");
        var legs = jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "tls" && e.TryGetProperty("data", out var d) && d.TryGetProperty("leg", out _))
            .Select(e => e.GetProperty("data"))
            .ToList();
        Assert.True(legs.Count == 2, $"expected one tls event per leg, got {legs.Count}:\n{jsonl}");
        return legs.ToDictionary(l => l.GetProperty("leg").GetString()!);
    }

    private static List<string> SubjectAltNames(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        return [.. san.EnumerateDnsNames().Select(n => "DNS:" + n), .. san.EnumerateIPAddresses().Select(ip => "IP:" + ip)];
    }

    private static int CountOf(string text, string fragment)
    {
        var count = 0;
        for (var i = text.IndexOf(fragment, StringComparison.Ordinal); i >= 0; i = text.IndexOf(fragment, i + fragment.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static List<string> PemBlocks(string text)
    {
        const string begin = "-----BEGIN CERTIFICATE-----";
        const string end = "-----END CERTIFICATE-----";
        var blocks = new List<string>();
        for (var start = text.IndexOf(begin, StringComparison.Ordinal); start >= 0; start = text.IndexOf(begin, start + 1, StringComparison.Ordinal))
        {
            var stop = text.IndexOf(end, start, StringComparison.Ordinal);
            Assert.True(stop > start, "unterminated PEM block in openssl output");
            blocks.Add(text[start..(stop + end.Length)] + "\n");
        }

        return blocks;
    }

    private static async Task<(string Subject, string Issuer, string SubjectAltName)> X509TextAsync(string pemFile)
    {
        var run = await OpenSsl.RunAsync(["x509", "-in", pemFile, "-noout", "-nameopt", "RFC2253", "-subject", "-issuer", "-ext", "subjectAltName"]);
        Assert.True(run.ExitCode == 0, $"{run.CommandLine}\n{run.Output}");
        var lines = run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var san = Array.FindIndex(lines, l => l.StartsWith("X509v3 Subject Alternative Name", StringComparison.Ordinal));
        return (
            lines.Single(l => l.StartsWith("subject=", StringComparison.Ordinal)),
            lines.Single(l => l.StartsWith("issuer=", StringComparison.Ordinal)),
            san >= 0 && san + 1 < lines.Length ? lines[san + 1] : "");
    }

    private static string Describe(IEnumerable<(int Port, string Value)> rows) =>
        string.Join(" | ", rows.Select(r => $"{r.Port}: {r.Value}"));
}

/// <summary>The upstream's identity, issued by the test "real world" CA and written as PEM for Postfix and openssl.</summary>
[SupportedOSPlatform("linux")]
internal sealed class UpstreamTlsFiles : IDisposable
{
    private const UnixFileMode PublicFile = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode PublicDirectory = PublicFile | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private UpstreamTlsFiles(string directory, X509Certificate2 certificate)
    {
        Directory = directory;
        Certificate = certificate;
    }

    /// <summary>Under /tmp like the Postfix instances; holds the PEMs and whatever a test writes next to them.</summary>
    public string Directory { get; }

    public X509Certificate2 Certificate { get; }

    /// <summary>Leaf then issuing CA, as smtpd_tls_chain_files wants after the key.</summary>
    public string CertificateFile => Path.Combine(Directory, "upstream-chain.pem");

    public string KeyFile => Path.Combine(Directory, "upstream-key.pem");

    /// <summary>SmtpLens's interception CA: the trust anchor a client must be given to accept forged leaves.</summary>
    public string ProxyCaFile => Path.Combine(Directory, "smtplens-ca.pem");

    public static UpstreamTlsFiles Write(TlsTestPki pki, string commonName, IEnumerable<string> names)
    {
        var directory = Path.Combine("/tmp", "smtplens-tlsrp-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);

        // Postfix's unprivileged smtp(8) reads the CA file: readable by all whatever the umask (keys stay 0600).
        File.SetUnixFileMode(directory, PublicDirectory);
        var now = DateTimeOffset.UtcNow;
        var certificate = pki.UpstreamCa.ToX509WithKey(pki.UpstreamCa.Issue(commonName, names, now.AddDays(-1), now.AddDays(30)));
        var files = new UpstreamTlsFiles(directory, certificate);
        File.WriteAllText(files.CertificateFile, certificate.ExportCertificatePem() + "\n" + pki.UpstreamCa.Certificate.ExportCertificatePem() + "\n");
        using (var key = certificate.GetRSAPrivateKey() ?? throw new InvalidOperationException("upstream certificate has no RSA key"))
        {
            PemFiles.WritePrivate(files.KeyFile, key.ExportPkcs8PrivateKeyPem());
        }

        File.WriteAllText(files.ProxyCaFile, pki.ProxyCa.Certificate.ExportCertificatePem() + "\n");
        File.SetUnixFileMode(files.CertificateFile, PublicFile);
        File.SetUnixFileMode(files.ProxyCaFile, PublicFile);
        return files;
    }

    public void Dispose()
    {
        Certificate.Dispose();
        if (Environment.GetEnvironmentVariable("SMTPLENS_KEEP_PEER_DIRS") != "1")
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

/// <summary>The openssl command-line tool (Debian package openssl, pulled in by postfix via ssl-cert).</summary>
[SupportedOSPlatform("linux")]
internal static class OpenSsl
{
    public const string Path = "/usr/bin/openssl";

    public static Task<ChildProcessResult> RunAsync(IReadOnlyList<string> arguments, string? stdin = null)
    {
        if (!File.Exists(Path))
        {
            throw new InvalidOperationException($"{Path} not found. CI must run: apt-get install -y --no-install-recommends openssl");
        }

        // stdin is always given (empty by default) so s_client never waits on the test host's terminal.
        return ChildProcess.RunAsync(Path, arguments, TimeSpan.FromSeconds(30), CancellationToken.None, Encoding.ASCII.GetBytes(stdin ?? ""));
    }
}
