using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.IntegrationTests.RealPeers;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Lab;

namespace SmtpLens.IntegrationTests.Capture;

/// <summary>
/// The real <c>smtplens proxy --pcap</c>: every session's file is read by tshark and capinfos without a warning, tshark
/// decrypts both legs with no key-log option (the secrets are in the file), and what it reassembles on each leg is
/// byte for byte what the transcript records. Also an aborted session and <c>smtplens pcap</c> merging.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PcapCaptureTests : IDisposable
{
    /// <summary>TLS 1.3 is the default; the 1.2 case caps both legs.</summary>
    private static readonly string[] Tls12Options = ["--tls-max-version", "1.2"];

    private const string ServerName = "mx.pcap.test";
    private const string Sender = "pcap-sender@client.test";

    private readonly TlsTestPki _pki = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-pcap-").FullName;

    public void Dispose()
    {
        _pki.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("tls1.2")]
    [InlineData("tls1.3")]
    [InlineData("plain")]
    public async Task Proxy_Pcap_Both_Legs_Decrypt_On_Open_To_The_Bytes_The_Transcript_Records(string mode)
    {
        var tls = mode != "plain";
        await using var upstream = new LabSmtpServer(new LabServerOptions { TlsCertificate = tls ? _pki.UpstreamCertificate(ServerName) : null });
        upstream.Start();
        var (pcapDir, transcripts) = (Path.Combine(_dir, "pcap"), Path.Combine(_dir, "transcripts"));
        List<string> args = ["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port.ToString(CultureInfo.InvariantCulture)}", "--transcripts", transcripts, "--capture-messages", "--pcap", pcapDir];
        if (tls)
        {
            var ca = Path.Combine(_dir, "ca");
            var (caExit, _, caError) = await SmtplensProcess.RunAsync("ca", "init", "--dir", ca);
            Assert.True(caExit == 0, caError);
            args.AddRange(["--tls", "intercept", "--ca-dir", ca]);
            args.AddRange(mode == "tls1.2" ? Tls12Options : []);
        }

        await using var proxy = SmtplensProcess.Start(args);
        var proxyPort = int.Parse((await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)")).Groups[1].Value, CultureInfo.InvariantCulture);
        int[] ports = [proxyPort, upstream.EndPoint.Port];

        // Two sessions; the message has lines that need dot-stuffing and 8-bit text.
        for (var i = 1; i <= 2; i++)
        {
            var body = $"From: {Sender}\r\nTo: rcpt{i}@example.test\r\nSubject: pcap {i}\r\n\r\n.a dot-stuffed line\r\n..and two\r\nGrüße {i}\r\n";
            var result = await LabSmtpClient.SendAsync(
                new IPEndPoint(IPAddress.Loopback, proxyPort),
                [new LabMessage(Sender, [$"rcpt{i}@example.test"], Encoding.UTF8.GetBytes(body))],
                new LabClientOptions { StartTls = tls, TlsServerName = ServerName },
                CancellationToken.None);
            Assert.True(result.Fates.Single().Delivered, $"{result.Fates.Single().Detail} {result.Error}\n{proxy.Stderr}");
            Assert.Equal(mode switch { "tls1.2" => "Tls12", "tls1.3" => "Tls13", _ => null }, result.TlsProtocol);
        }

        await proxy.InterruptAsync();
        var files = Directory.GetFiles(pcapDir, "*.pcapng").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, files.Count);
        foreach (var file in files)
        {
            // The file holds the session's TLS secrets: owner only.
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var session = Path.GetFileNameWithoutExtension(file);
            var list = await TsharkCaptureFile.ReadCleanlyAsync(file);
            var (commands, replies) = ExpectedStreams(transcripts, session);

            // tcp.stream 0 is the client leg (opened first), 1 the upstream leg; on both, node 0 is the side that dialled.
            foreach (var stream in new[] { 0, 1 })
            {
                var (sent, received) = tls ? await TsharkCaptureFile.DecryptedStreamAsync(file, stream, ports) : await TsharkCaptureFile.FollowAsync(file, "tcp", stream, ports);
                var leg = stream == 0 ? "client leg" : "upstream leg";
                Assert.True(commands.SequenceEqual(sent), $"{session} {leg}: commands differ from the transcript\nexpected: {Show(commands)}\ncapture:  {Show(sent)}\n{list}");
                Assert.True(replies.SequenceEqual(received), $"{session} {leg}: replies differ from the transcript\nexpected: {Show(replies)}\ncapture:  {Show(received)}");
            }

            // Decrypted by the SMTP dissector too, on both legs, with no key log: the commands after STARTTLS are there.
            // (Not QUIT: when ".\r\n" comes in a TLS record of its own, Wireshark's SMTP dissector stays in DATA and
            // shows QUIT as a DATA fragment; the byte comparison above covers it.)
            var verbs = await Tshark.ReadAsync(file, null, "smtp.req", "smtp.req.command", ports);
            foreach (var port in ports)
            {
                var onLeg = verbs.Where(v => v.Port == port).Select(v => v.Value).ToList();
                Assert.True(new[] { "EHLO", "MAIL", "RCPT", "DATA" }.All(onLeg.Contains) && onLeg.Count(v => v == "EHLO") == (tls ? 2 : 1), $"port {port}: {string.Join(" ", onLeg)}\n{await SmtpListAsync(file, ports)}");

                // tshark shows a command's first four letters as smtp.req.command.
                Assert.Equal(tls, onLeg.Contains("STAR"));
            }

            var secrets = PcapngKeyLog(file);
            Assert.Equal(tls, secrets.Length > 0);
            if (mode == "tls1.3")
            {
                Assert.Contains("CLIENT_TRAFFIC_SECRET_0 ", secrets, StringComparison.Ordinal);
            }
        }

        // smtplens pcap: one file, both sessions, both legs each, everything still decrypts.
        var merged = Path.Combine(_dir, "merged.pcapng");
        var (exit, stdout, stderr) = await SmtplensProcess.RunAsync("pcap", pcapDir, "-o", merged);
        Assert.True(exit == 0, stderr);
        Assert.Contains("2 capture(s), 4 interface(s)", stdout, StringComparison.Ordinal);
        await TsharkCaptureFile.ReadCleanlyAsync(merged);
        var mergedVerbs = await Tshark.ReadAsync(merged, null, "smtp.req.command == \"MAIL\"", "smtp.req.parameter", ports);
        Assert.Equal(4, mergedVerbs.Count);
        Assert.Equal(2, mergedVerbs.Count(v => v.Value.Contains("pcap-sender", StringComparison.Ordinal) && v.Port == proxyPort));
    }

    [Fact]
    public async Task Proxy_Pcap_Session_Aborted_When_The_Upstream_Vanishes_Mid_Data_Still_Gives_A_Readable_File()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions { DropAfterContentBytes = 200 });
        upstream.Start();
        var (pcapDir, transcripts) = (Path.Combine(_dir, "pcap"), Path.Combine(_dir, "transcripts"));
        await using var proxy = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port.ToString(CultureInfo.InvariantCulture)}", "--transcripts", transcripts, "--pcap", pcapDir]);
        var proxyPort = int.Parse((await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)")).Groups[1].Value, CultureInfo.InvariantCulture);
        var body = $"Subject: big\r\n\r\n{string.Concat(Enumerable.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 2000))}";
        var result = await LabSmtpClient.SendAsync(new IPEndPoint(IPAddress.Loopback, proxyPort), [new LabMessage(Sender, ["rcpt@example.test"], Encoding.ASCII.GetBytes(body))], new LabClientOptions(), CancellationToken.None);
        Assert.False(result.Fates.Single().Delivered);
        await proxy.InterruptAsync();

        var file = Assert.Single(Directory.GetFiles(pcapDir, "*.pcapng"));
        var session = Path.GetFileNameWithoutExtension(file);
        var end = File.ReadLines(Path.Combine(transcripts, session + ".jsonl")).Single(l => l.Contains("\"kind\":\"disconnect\"", StringComparison.Ordinal));
        Assert.Matches("\"end\":\"Upstream(ClosedMidMessage|Error)\"", end);
        await TsharkCaptureFile.ReadCleanlyAsync(file);

        // The upstream leg ends with the upstream's FIN or reset (SmtpLens sees a FIN when it reads, a reset when it was
        // still writing the message); SmtpLens aborted the client leg with a RST.
        var flags = await ChildProcess.RunAsync(Tshark.Path, ["-r", file, "-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.flags.fin", "-e", "tcp.flags.reset"], TimeSpan.FromSeconds(60), CancellationToken.None);
        var rows = flags.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
        Assert.True(rows.Any(r => r[0] == "1" && r[1] == upstream.EndPoint.Port.ToString(CultureInfo.InvariantCulture) && (r[2] is "1" or "True" || r[3] is "1" or "True")), flags.StandardOutput);
        var lastClientLeg = rows.Last(r => r[0] == "0");
        Assert.True(lastClientLeg[1] == proxyPort.ToString(CultureInfo.InvariantCulture) && lastClientLeg[3] is "1" or "True", flags.StandardOutput);

        // What the client sent before the abort is on the client leg, as the transcript records it.
        var (sent, _) = await TsharkCaptureFile.FollowAsync(file, "tcp", 0, [proxyPort, upstream.EndPoint.Port]);
        var (commands, _) = ExpectedStreams(transcripts, session, withContent: false);
        Assert.StartsWith(Encoding.ASCII.GetString(commands), Encoding.ASCII.GetString(sent), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pcap_Verb_Without_Captures_Exits_2_And_Writes_Nothing()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var merged = Path.Combine(_dir, "merged.pcapng");
        var (exit, _, stderr) = await SmtplensProcess.RunAsync("pcap", empty, "-o", merged);
        Assert.Equal(2, exit);
        Assert.Contains("no .pcapng files", stderr, StringComparison.Ordinal);
        (exit, _, stderr) = await SmtplensProcess.RunAsync("pcap", Path.Combine(_dir, "missing"), "-o", merged);
        Assert.Equal(2, exit);
        Assert.Contains("no such folder or file", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(merged));
    }

    /// <summary>The byte streams the transcript says each side sent: command lines, each message's content as
    /// captured (dot-stuffed and terminated as on the wire), and reply lines, all CRLF-terminated.</summary>
    private static (byte[] Commands, byte[] Replies) ExpectedStreams(string transcripts, string session, bool withContent = true)
    {
        var commands = new List<byte>();
        var replies = new List<byte>();
        foreach (var line in File.ReadLines(Path.Combine(transcripts, session + ".jsonl")))
        {
            using var json = JsonDocument.Parse(line);
            var e = json.RootElement;
            var (dir, kind, text) = (e.GetProperty("dir").GetString(), e.GetProperty("kind").GetString(), e.GetProperty("text").GetString()!);
            if (dir == "C" && kind == "command")
            {
                commands.AddRange(Encoding.UTF8.GetBytes(text + "\r\n"));
            }
            else if (dir == "S" && kind == "reply")
            {
                replies.AddRange(Encoding.UTF8.GetBytes(text + "\r\n"));
            }
            else if (kind == "message" && withContent)
            {
                var data = e.GetProperty("data");
                var eml = Path.Combine(transcripts, $"{session}-{data.GetProperty("message").GetInt32().ToString(CultureInfo.InvariantCulture)}.eml");
                var content = File.ReadAllBytes(eml);
                Assert.Equal(data.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(content)));
                commands.AddRange([.. Swaks.DotStuff(content), (byte)'\r', (byte)'\n']);
            }
        }

        return ([.. commands], [.. replies]);
    }

    private static async Task<string> SmtpListAsync(string file, int[] ports)
    {
        var run = await ChildProcess.RunAsync(Tshark.Path, ["-r", file, "-o", "tls.keylog_file:", "-Y", "smtp", .. ports.SelectMany(p => new[] { "-d", $"tcp.port=={p.ToString(CultureInfo.InvariantCulture)},smtp" })], TimeSpan.FromSeconds(60), CancellationToken.None);
        return run.StandardOutput;
    }

    private static string PcapngKeyLog(string file)
    {
        using var stream = File.OpenRead(file);
        return SmtpLens.Capture.PcapngMerge.KeyLog(stream);
    }

    private static string Show(byte[] bytes) => Encoding.UTF8.GetString(bytes).Replace("\r\n", "\\r\\n", StringComparison.Ordinal);
}
