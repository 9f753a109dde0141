using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Text;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.IntegrationTests.RealPeers;
using SmtpLens.Lab;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>
/// The real <c>smtplens proxy --keylog</c> in front of an SslStream (OpenSSL) upstream, an SslStream client doing
/// STARTTLS: tshark, an independent TLS implementation, decrypts a loopback capture of each leg with the key log
/// alone, in TLS 1.2 (CLIENT_RANDOM) and in TLS 1.3 (the five traffic and exporter secrets).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class KeyLogDecryptionTests : IDisposable
{
    private const string ServerName = "mx.keylog.test";
    private const string Sender = "keylog-sender@client.test";
    private const string Recipient = "keylog-rcpt@example.test";

    private static readonly string[] Tls13Labels =
        ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"];

    private readonly TlsTestPki _pki = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-keylog-").FullName;

    public void Dispose()
    {
        _pki.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tshark_Decrypts_Both_Legs_Of_A_StartTls_Session_With_The_Proxy_Key_Log(bool tls13)
    {
        Tshark.EnsureAvailable();
        var ca = Path.Combine(_dir, "ca");
        var (caExit, _, caError) = await SmtplensProcess.RunAsync("ca", "init", "--dir", ca);
        Assert.True(caExit == 0, caError);

        // Both peers offer 1.2 and 1.3: the proxy's default (1.3) or --tls-max-version 1.2 decides the version of both legs.
        await using var upstream = new LabSmtpServer(new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate(ServerName) });
        upstream.Start();
        var keyLog = Path.Combine(_dir, "keys.log");
        string[] args =
        [
            "proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port.ToString(CultureInfo.InvariantCulture)}",
            "--transcripts", Path.Combine(_dir, "transcripts"), "--tls", "intercept", "--ca-dir", ca, "--keylog", keyLog,
            .. tls13 ? [] : new[] { "--tls-max-version", "1.2" },
        ];
        await using var proxy = SmtplensProcess.Start(args);
        var ready = await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)");
        var proxyPort = int.Parse(ready.Groups[1].Value, CultureInfo.InvariantCulture);
        var upstreamPort = upstream.EndPoint.Port;
        var capturePath = Path.Combine(_dir, "capture.pcapng");

        await using (var capture = await Tshark.CaptureAsync(capturePath, proxyPort, upstreamPort))
        {
            var message = new LabMessage(Sender, [Recipient], Encoding.ASCII.GetBytes($"From: {Sender}\r\nTo: {Recipient}\r\nSubject: key log\r\n\r\ndecrypt me\r\n"));
            var result = await LabSmtpClient.SendAsync(
                new IPEndPoint(IPAddress.Loopback, proxyPort),
                [message],
                new LabClientOptions { StartTls = true, TlsServerName = ServerName },
                CancellationToken.None);
            Assert.True(result.Fates.Single().Delivered, $"{result.Fates.Single().Detail} {result.Error}\n{proxy.Stderr}");
            Assert.Equal(tls13 ? "Tls13" : "Tls12", result.TlsProtocol);
            await capture.StopAsync();
        }

        // Session secrets: only the owner may read them.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyLog));
        var keyLines = (await File.ReadAllLinesAsync(keyLog)).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var labels = keyLines.Select(l => l.Split(' ')[0]).ToList();
        if (tls13)
        {
            // One line per secret per leg; CLIENT_RANDOM is the TLS 1.2 label.
            Assert.All(Tls13Labels, label => Assert.Equal(2, labels.Count(l => l == label)));
            Assert.Equal(10, keyLines.Count);
        }
        else
        {
            Assert.Equal(["CLIENT_RANDOM", "CLIENT_RANDOM"], labels);
        }

        // Every leg's client random differs, so a line cannot decrypt the other leg by accident.
        Assert.Equal(2, keyLines.Select(l => l.Split(' ')[1]).Distinct().Count());
        Assert.All(keyLines, l => Assert.Matches("^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,96}$", l));

        int[] ports = [proxyPort, upstreamPort];
        var commands = await Tshark.ReadAsync(capturePath, keyLog, "smtp.req", "smtp.command_line", ports);
        var opaqueCommands = await Tshark.ReadAsync(capturePath, null, "smtp.req", "smtp.command_line", ports);
        foreach (var port in ports)
        {
            var leg = port == proxyPort ? "client leg (client -> SmtpLens)" : "upstream leg (SmtpLens -> upstream)";

            // Replies go to an ephemeral port: select them by the server's port instead.
            var replyFilter = $"smtp.response && tcp.srcport == {port.ToString(CultureInfo.InvariantCulture)}";
            var replies = (await Tshark.ReadAsync(capturePath, keyLog, replyFilter, "smtp.response", ports)).Select(r => r.Value).ToList();
            var opaqueReplies = (await Tshark.ReadAsync(capturePath, null, replyFilter, "smtp.response", ports)).Select(r => r.Value).ToList();
            var sent = commands.Where(c => c.Port == port).Select(c => c.Value).ToList();
            var sentOpaque = opaqueCommands.Where(c => c.Port == port).Select(c => c.Value).ToList();
            var show = $"{leg}, port {port}\ncommands with key log: {string.Join(" | ", sent)}\nwithout: {string.Join(" | ", sentOpaque)}\n"
                + $"replies with key log: {string.Join(" | ", replies)}\nwithout: {string.Join(" | ", opaqueReplies)}";

            // Before STARTTLS the dialogue is cleartext; after it only the key log makes it readable.
            Assert.True(sentOpaque.Contains("STARTTLS"), show);
            Assert.True(sent.Contains("STARTTLS"), show);
            Assert.True(sent.Any(c => c.StartsWith($"MAIL FROM:<{Sender}>", StringComparison.Ordinal)), show);
            Assert.True(sent.Any(c => c.StartsWith($"RCPT TO:<{Recipient}>", StringComparison.Ordinal)), show);
            Assert.True(sent.Contains("DATA"), show);
            Assert.True(replies.Any(r => r.StartsWith("250 2.0.0 Ok: queued as LAB", StringComparison.Ordinal)), show);
            Assert.False(sentOpaque.Any(c => c.StartsWith("MAIL FROM", StringComparison.Ordinal)), show);
            Assert.False(opaqueReplies.Any(r => r.StartsWith("250 2.0.0 Ok: queued", StringComparison.Ordinal)), show);
        }
    }

    [Fact]
    public async Task Tshark_Decrypts_A_Seed002_Tls10_Rc4_Session_On_Both_Legs_With_Its_Mac_Checks_Passing()
    {
        // OpenSSL 3 has no RC4, so both lab ends are SmtpLens's own BouncyCastle peers; tshark (libgcrypt's RC4 and
        // HMAC-SHA1) is the independent check of Tls/Engine/LegacyRc4Cipher.cs on both legs.
        Tshark.EnsureAvailable();
        var ca = Path.Combine(_dir, "ca");
        var (caExit, _, caError) = await SmtplensProcess.RunAsync("ca", "init", "--dir", ca);
        Assert.True(caExit == 0, caError);
        TlsPolicy rc4Only = new() { CipherSuites = [Org.BouncyCastle.Tls.CipherSuite.TLS_RSA_WITH_RC4_128_SHA], MinimumVersion = 0x0301, MaximumVersion = 0x0301 };
        await using var upstream = new LabSmtpServer(new LabServerOptions
        {
            BouncyTls = (_pki.UpstreamCa.Issue(ServerName, [ServerName], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30)), rc4Only),
        });
        upstream.Start();
        var keyLog = Path.Combine(_dir, "rc4-keys.log");
        await using var proxy = SmtplensProcess.Start(
        [
            "proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port.ToString(CultureInfo.InvariantCulture)}",
            "--transcripts", Path.Combine(_dir, "transcripts"), "--tls", "intercept", "--ca-dir", ca, "--keylog", keyLog, "--tls-legacy",
        ]);
        var ready = await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)");
        var proxyPort = int.Parse(ready.Groups[1].Value, CultureInfo.InvariantCulture);
        var upstreamPort = upstream.EndPoint.Port;
        var capturePath = Path.Combine(_dir, "rc4.pcapng");

        await using (var capture = await Tshark.CaptureAsync(capturePath, proxyPort, upstreamPort))
        {
            var message = new LabMessage(Sender, [Recipient], Encoding.ASCII.GetBytes($"From: {Sender}\r\nTo: {Recipient}\r\nSubject: rc4\r\n\r\nseed 002\r\n"));
            var result = await LabSmtpClient.SendAsync(
                new IPEndPoint(IPAddress.Loopback, proxyPort),
                [message],
                new LabClientOptions { StartTls = true, TlsServerName = ServerName, BouncyPolicy = rc4Only },
                CancellationToken.None);
            Assert.True(result.Fates.Single().Delivered, $"{result.Fates.Single().Detail} {result.Error}\n{proxy.Stderr}");
            Assert.Equal("TLSv1.0", result.TlsProtocol);
            Assert.Equal("TLS_RSA_WITH_RC4_128_SHA", result.TlsCipher);
            await capture.StopAsync();
        }

        Assert.Equal(["TLSv1.0 TLS_RSA_WITH_RC4_128_SHA"], upstream.TlsSessions);
        var labels = (await File.ReadAllLinesAsync(keyLog)).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(' ')[0]).ToList();
        Assert.Equal(["CLIENT_RANDOM", "CLIENT_RANDOM"], labels);

        int[] ports = [proxyPort, upstreamPort];
        var commands = await Tshark.ReadAsync(capturePath, keyLog, "smtp.req", "smtp.command_line", ports);
        foreach (var port in ports)
        {
            var sent = commands.Where(c => c.Port == port).Select(c => c.Value).ToList();
            Assert.True(sent.Any(c => c.StartsWith($"MAIL FROM:<{Sender}>", StringComparison.Ordinal)), $"port {port}: {string.Join(" | ", sent)}");
            Assert.True(sent.Contains("DATA"), $"port {port}: {string.Join(" | ", sent)}");
        }

        // tshark checks each RC4 record's HMAC-SHA1 before it shows the plaintext; its TLS debug log says so per record.
        var debugLog = Path.Combine(_dir, "tshark-tls-debug.txt");
        List<string> arguments = ["-r", capturePath, "-o", "tls.keylog_file:" + keyLog, "-o", "tls.debug_file:" + debugLog, "-T", "fields", "-e", "smtp.req.command"];
        foreach (var port in ports)
        {
            arguments.AddRange(["-d", $"tcp.port=={port.ToString(CultureInfo.InvariantCulture)},smtp"]);
        }

        var run = await ChildProcess.RunAsync(Tshark.Path, arguments, TimeSpan.FromSeconds(60), CancellationToken.None);
        Assert.True(run.ExitCode == 0 && !run.TimedOut, run.Output);
        var debug = await File.ReadAllTextAsync(debugLog);
        Assert.DoesNotContain("mac failed", debug, StringComparison.Ordinal);
        Assert.True(CountOf(debug, "ssl_decrypt_record: mac ok") >= 8, $"MAC checks passed: {CountOf(debug, "ssl_decrypt_record: mac ok")}");
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
