using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Relay;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.Reliability;

/// <summary>Random sessions through the real proxy: MAIL/RCPT/DATA/BDAT/RSET with dot lines, bare CR and LF, NUL,
/// 8-bit bytes, lines up to 20,000 bytes, BDAT chunks cut at random offsets and every write cut at random offsets,
/// plain and under STARTTLS. The upstream must receive exactly the client's bytes, the client exactly the upstream's,
/// and every digest in the transcript must be the SHA-256 of the content the client meant.
/// Each case is a seed: a failure prints it, and <c>SMTPLENS_RELAY_SEED</c> replays that one case;
/// <c>SMTPLENS_RELAY_CASES</c> scales the run.</summary>
public sealed class ByteIntegrityProperties(ITestOutputHelper output) : IDisposable
{
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public Task Plain_Sessions_Relay_Every_Byte_And_Digest_Exactly() => RunCasesAsync(startTls: false, firstSeed: 1000, defaultCases: 400);

    [Fact]
    public Task StartTls_Sessions_Relay_Every_Byte_And_Digest_Exactly() => RunCasesAsync(startTls: true, firstSeed: 5000, defaultCases: 150);

    private async Task RunCasesAsync(bool startTls, int firstSeed, int defaultCases)
    {
        var seeds = Environment.GetEnvironmentVariable("SMTPLENS_RELAY_SEED") is { Length: > 0 } one
            ? [int.Parse(one, CultureInfo.InvariantCulture)]
            : Enumerable.Range(firstSeed, Environment.GetEnvironmentVariable("SMTPLENS_RELAY_CASES") is { Length: > 0 } n ? int.Parse(n, CultureInfo.InvariantCulture) : defaultCases).ToArray();
        await using var upstream = new RecordingUpstream(startTls ? _pki.UpstreamCertificate("rec.upstream.test") : null, firstSeed);
        await using var f = await RelayFixture.StartAsync(null, upstream.EndPoint, tls: startTls ? new TlsInterceptionOptions { Authority = _pki.ProxyCa } : null);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long bytes = 0;
        var messages = 0;
        foreach (var seed in seeds)
        {
            var steps = new List<string>();
            try
            {
                var (sent, digests) = await RunCaseAsync(f, upstream, seed, startTls, _pki.ProxyCa.Certificate.Subject, steps);
                bytes += sent;
                messages += digests;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"relay case failed: seed {seed}, STARTTLS {startTls}; replay with SMTPLENS_RELAY_SEED={seed}; steps: {string.Join(" | ", steps)}", e);
            }
        }
        output.WriteLine($"{seeds.Length} {(startTls ? "STARTTLS" : "plain")} sessions, {messages} messages, {bytes} client bytes in {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static async Task<(long Sent, int Messages)> RunCaseAsync(RelayFixture f, RecordingUpstream upstream, int seed, bool startTls, string issuer, List<string> steps)
    {
        var random = new Random(seed);
        var expected = new List<string>();
        // Client ports come round again over hundreds of sessions: only summaries after this point can be this case's.
        var earlier = (await f.WaitForSessionsAsync(0)).Count;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(f.ProxyEndPoint);
        var client = new ScriptedClient(new NetworkStream(socket, ownsSocket: false), random, steps);
        await client.ExpectAsync("220");
        // The upstream seeds its reply splits from the EHLO name, so a replayed seed replays them too.
        var ehlo = $"EHLO case-{seed}.client.test\r\n";
        await client.CommandAsync(ehlo, "250");
        if (startTls)
        {
            await client.CommandAsync("STARTTLS\r\n", "220");
            await client.StartTlsAsync("rec.upstream.test", issuer);

            // Both peers speak TLS 1.3 and SmtpLens does by default: the property covers 1.3 sessions.
            if (!steps.Contains("TLS Tls13"))
            {
                throw new InvalidOperationException($"expected a TLS 1.3 client leg, got {steps[^1]}");
            }

            await client.CommandAsync(ehlo, "250");
        }

        var transactions = 1 + random.Next(3);
        for (var t = 0; t < transactions; t++)
        {
            await client.CommandAsync($"MAIL FROM:<s{t}@client.test>\r\n", "250");
            for (var r = random.Next(1, 4); r > 0; r--)
            {
                await client.CommandAsync($"RCPT TO:<r{r}@upstream.test>\r\n", "250");
            }

            if (random.Next(6) == 0)
            {
                await client.CommandAsync("RSET\r\n", "250");
                continue;
            }

            var bdat = random.Next(2) == 0;
            var content = Content(random, forData: !bdat);
            expected.Add(Convert.ToHexStringLower(SHA256.HashData(content)));
            if (bdat)
            {
                await SendBdatAsync(client, random, content);
            }
            else
            {
                await client.CommandAsync("DATA\r\n", "354");
                await client.CommandAsync(DotStuffing.Stuff(content), "250", $"{content.Length} content bytes, stuffed");
            }

            if (random.Next(4) == 0)
            {
                await client.CommandAsync("RSET\r\n", "250");
            }
        }

        await client.CommandAsync("QUIT\r\n", "221");
        await client.ReadToEndAsync();
        var clientEnd = socket.LocalEndPoint!.ToString();
        await client.DisposeAsync();

        var record = await upstream.NextAsync(TimeSpan.FromSeconds(15));
        AssertSameBytes("client sent -> upstream received", client.Sent, record.Received);
        AssertSameBytes("upstream sent -> client received", record.Sent, client.Received);
        Assert.Equal(expected, record.MessageDigests);
        var summary = await WaitForSummaryAsync(f, clientEnd!, earlier);
        Assert.Equal(expected, summary.Transactions.Where(t => t.Sha256 is not null).Select(t => t.Sha256));
        Assert.All(summary.Transactions.Where(t => t.Sha256 is not null), t => Assert.True(t.Accepted, t.Describe()));
        var events = f.ReadTranscript(summary.SessionId, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(expected, events.Where(e => e.GetProperty("kind").GetString() == "message").Select(e => e.GetProperty("data").GetProperty("sha256").GetString()));
        return (client.Sent.Length, expected.Count);
    }

    /// <summary>The content cut into one to five chunks at random offsets; now and then a final empty "BDAT 0 LAST".</summary>
    private static async Task SendBdatAsync(ScriptedClient client, Random random, byte[] content)
    {
        var emptyLast = random.Next(5) == 0;
        var chunks = RandomSplits.Cut(content, random, maxPieces: 5).ToList();
        if (chunks.Count == 0 || emptyLast)
        {
            chunks.Add(ReadOnlyMemory<byte>.Empty);
        }

        for (var i = 0; i < chunks.Count; i++)
        {
            var last = i == chunks.Count - 1 ? " LAST" : string.Empty;
            byte[] wire = [.. Encoding.ASCII.GetBytes($"BDAT {chunks[i].Length}{last}\r\n"), .. chunks[i].Span];
            await client.CommandAsync(wire, "250", $"BDAT {chunks[i].Length}{last}");
        }
    }

    /// <summary>Message content built from the shapes that break relays: dot lines, the terminator inside
    /// content, bare CR and LF, NUL, 8-bit bytes, and now and then a line of up to 20,000 bytes.</summary>
    private static byte[] Content(Random random, bool forData)
    {
        var content = new List<byte>();
        var target = random.Next(8) == 0 ? random.Next(3000, 12_000) : random.Next(0, 1500);
        while (content.Count < target)
        {
            switch (random.Next(12))
            {
                case 0: content.AddRange(".\r\n"u8.ToArray()); break;
                case 1: content.AddRange("..\r\n"u8.ToArray()); break;
                case 2: content.AddRange(".dot-led line\r\n"u8.ToArray()); break;
                case 3: content.AddRange("\r\n.\r\n"u8.ToArray()); break;
                case 4: content.Add((byte)'\r'); break;
                case 5: content.Add((byte)'\n'); break;
                case 6: content.Add(0); break;
                case 7: content.AddRange(Enumerable.Range(0, random.Next(1, 9)).Select(_ => (byte)random.Next(0x80, 0x100))); break;
                case 8: content.AddRange(random.Next(2) == 0 ? "\n.\n"u8.ToArray() : "\r.\r"u8.ToArray()); break;
                case 9 when random.Next(6) == 0:
                    content.AddRange(Enumerable.Range(0, random.Next(1000, 20_001)).Select(_ => (byte)random.Next(0x21, 0x7f)));
                    content.AddRange("\r\n"u8.ToArray());
                    break;
                default:
                    content.AddRange(Enumerable.Range(0, random.Next(1, 100)).Select(_ => (byte)random.Next(0x20, 0x7f)));
                    content.AddRange("\r\n"u8.ToArray());
                    break;
            }
        }

        if (forData && content.Count > 0 && !(content[^2] == (byte)'\r' && content[^1] == (byte)'\n'))
        {
            content.AddRange("\r\n"u8.ToArray());
        }

        return [.. content];
    }

    private static void AssertSameBytes(string what, byte[] expected, byte[] actual)
    {
        if (expected.AsSpan().SequenceEqual(actual))
        {
            return;
        }

        var at = expected.AsSpan().CommonPrefixLength(actual);
        var around = (byte[] b) => Convert.ToHexString(b.AsSpan(Math.Max(0, at - 16), Math.Min(48, Math.Max(0, b.Length - Math.Max(0, at - 16)))));
        Assert.Fail($"{what}: {expected.Length} vs {actual.Length} bytes, first difference at offset {at}: expected ...{around(expected)}..., got ...{around(actual)}...");
    }

    private static async Task<SessionSummary> WaitForSummaryAsync(RelayFixture f, string clientEndPoint, int earlier)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var summaries = await f.WaitForSessionsAsync(0);
            if (summaries.Skip(earlier).FirstOrDefault(s => s.Client == clientEndPoint) is { } summary)
            {
                return summary;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no session summary for client {clientEndPoint}");
            await Task.Delay(10);
        }
    }

    /// <summary>Lock-step SMTP client that cuts every write at random offsets and records the cleartext both ways.</summary>
    private sealed class ScriptedClient(Stream stream, Random random, List<string> steps) : IAsyncDisposable
    {
        private readonly MemoryStream _sent = new();
        private readonly MemoryStream _received = new();
        private readonly byte[] _one = new byte[1];
        private Stream _stream = stream;

        public byte[] Sent => _sent.ToArray();

        public byte[] Received => _received.ToArray();

        public Task CommandAsync(string command, string code) => CommandAsync(Encoding.ASCII.GetBytes(command), code, command.TrimEnd());

        public async Task CommandAsync(byte[] bytes, string code, string label)
        {
            steps.Add(label);
            _sent.Write(bytes);
            foreach (var piece in RandomSplits.Cut(bytes, random, maxPieces: 6))
            {
                await _stream.WriteAsync(piece);
                await _stream.FlushAsync();
            }

            await ExpectAsync(code);
        }

        /// <summary>Reads one whole reply, byte by byte so nothing past it is taken, and checks its code.</summary>
        public async Task ExpectAsync(string code)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var line = new List<byte>();
            while (true)
            {
                if (await _stream.ReadAsync(_one, cts.Token) == 0)
                {
                    Assert.Fail($"connection closed while waiting for {code}; got so far: {Encoding.Latin1.GetString(_received.ToArray()[^Math.Min(200, (int)_received.Length)..])}");
                }

                _received.WriteByte(_one[0]);
                line.Add(_one[0]);
                if (_one[0] != (byte)'\n')
                {
                    continue;
                }

                var text = Encoding.ASCII.GetString([.. line]);
                line.Clear();
                Assert.True(text.StartsWith(code, StringComparison.Ordinal), $"expected {code}, got {text.TrimEnd()}");
                if (text.Length < 4 || text[3] != '-')
                {
                    steps.Add(text.TrimEnd());
                    return;
                }
            }
        }

        public async Task StartTlsAsync(string host, string issuer)
        {
            var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                // Only SmtpLens's forgery, issued by the test interception CA, is the expected certificate.
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Issuer == issuer,
            });
            _stream = ssl;
            steps.Add($"TLS {ssl.SslProtocol}");
        }

        public async Task ReadToEndAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var buffer = new byte[4096];
            int n;
            try
            {
                while ((n = await _stream.ReadAsync(buffer, cts.Token)) > 0)
                {
                    _received.Write(buffer, 0, n);
                }
            }
            catch (IOException)
            {
                // A TLS close without close_notify: what arrived before it is recorded.
            }
        }

        public ValueTask DisposeAsync() => _stream.DisposeAsync();
    }
}
