using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Lab;
using SmtpLens.Relay;
using SmtpLens.StateMachine;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Reliability;

/// <summary>Every stage x side x fault through the real proxy: the client never reads a reply the upstream did not
/// send (above all no 250 after the final dot), a healthy session runs alongside and is delivered, and the
/// transcript's end event names the stage and the side. Short proxy timeouts keep the stalls quick.</summary>
public sealed class FaultInjectionTests
{
    // Short enough that 16 stalls stay quick, long enough that the healthy session beside them never idles out on a loaded machine.
    private static readonly RelayOptions Fast = new()
    {
        IdleTimeout = TimeSpan.FromMilliseconds(2500),
        ConnectTimeout = TimeSpan.FromSeconds(2),
        DrainTimeout = TimeSpan.FromSeconds(1),
    };

    private static readonly string[] Stages = ["connect", "banner", "ehlo", "starttls", "tls-handshake", "data", "after-final-dot", "quit"];

    // One PKI and one upstream certificate for all 48 cells: key generation would cost more than the faults.
    private static readonly TlsTestPki Pki = new();

    private static readonly Lazy<System.Security.Cryptography.X509Certificates.X509Certificate2> UpstreamCertificate = new(() => Pki.UpstreamCertificate("rec.upstream.test"));

    public static TheoryData<string, string, string> Matrix
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (var stage in Stages)
            {
                foreach (var side in new[] { "client", "upstream" })
                {
                    foreach (var fault in new[] { "close", "reset", "stall" })
                    {
                        data.Add(stage, side, fault);
                    }
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Fault_Gets_The_Client_No_Forged_Reply_And_Is_Named_With_Its_Stage_And_Side(string stage, string side, string fault)
    {
        var kind = Enum.Parse<FaultKind>(fault, ignoreCase: true);
        var at = Enum.Parse<FaultStage>(stage.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true);
        // A refused or unanswered upstream connection cannot be the listener's first accept: the port is made unavailable instead.
        var portUnavailable = side == "upstream" && at == FaultStage.Connect && kind != FaultKind.Reset;
        var upstreamFault = side == "upstream" && !portUnavailable ? new UpstreamFault(at, kind) : null;
        await using var upstream = new RecordingUpstream(UpstreamCertificate.Value, 77, upstreamFault);
        await using var f = await RelayFixture.StartAsync(null, upstream.EndPoint, Fast, tls: new TlsInterceptionOptions { Authority = Pki.ProxyCa });

        FaultyClient? client = null;
        Task<LabClientResult> healthy;
        if (portUnavailable)
        {
            await upstream.UnavailableWhileAsync(kind == FaultKind.Stall, async () => client = await FaultyClient.RunAsync(f, at, null, Pki.ProxyCa.Certificate.Subject));
            healthy = HealthyAsync(f);
        }
        else
        {
            // The healthy session starts once the faulty one holds the upstream's first connection, and runs beside it.
            healthy = Task.Run(async () =>
            {
                while (upstream.SentSoFar.Count == 0)
                {
                    await Task.Delay(5);
                }

                return await HealthyAsync(f);
            });
            client = await FaultyClient.RunAsync(f, at, side == "client" ? kind : null, Pki.ProxyCa.Certificate.Subject);
        }

        // The proxy keeps serving: beside the faulty session, or after it when the port was down.
        var healthyResult = await healthy;
        if (!healthyResult.Fates.Single().Delivered)
        {
            await Task.Delay(2000);
            var ended = string.Join("; ", (await f.WaitForSessionsAsync(0)).Select(s => $"{s.Client} {s.Reason} ({s.EndDetail}) EHLO {s.EhloName}"));
            Assert.Fail($"healthy session beside the fault: {healthyResult.Fates.Single().Detail} {healthyResult.Error}; sessions: {ended}; upstream sent: {string.Join(" || ", upstream.SentSoFar.Select(b => Encoding.Latin1.GetString(b)))}");
        }

        var summaries = await WaitForClientAsync(f, client!.EndPoint);
        var summary = summaries.Single(s => s.Client == client.EndPoint);
        var events = f.ReadTranscript(summary.SessionId, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var end = events.Single(e => e.GetProperty("kind").GetString() == "disconnect").GetProperty("data");
        var namedStage = end.GetProperty("stage").GetString();
        var namedSide = end.GetProperty("side").GetString();
        var context = $"{stage}/{side}/{fault}: session ended {summary.Reason} ({summary.EndDetail}) named stage {namedStage}, side {namedSide}; client read: {Encoding.Latin1.GetString(client.Received)}";

        // No reply the upstream did not send: what the client read is a prefix of what the upstream wrote, plus at most
        // SmtpLens's own 421 when there was no upstream to speak.
        var upstreamSent = upstream.SentSoFar.FirstOrDefault(s => !Encoding.Latin1.GetString(s).Contains("greets lab-client", StringComparison.Ordinal)) ?? [];
        var prefix = client.Received.AsSpan().CommonPrefixLength(upstreamSent);
        var extra = Encoding.Latin1.GetString(client.Received.AsSpan(prefix));
        Assert.True(extra.Length == 0 || (extra.StartsWith("421 4.4.0 SmtpLens: ", StringComparison.Ordinal) && namedStage == "connect"), $"the client read bytes the upstream never sent: \"{extra}\"; {context}");
        if (at == FaultStage.AfterFinalDot && side == "upstream")
        {
            Assert.DoesNotContain("\r\n250", Encoding.Latin1.GetString(client.Received).Split("354 ")[^1], StringComparison.Ordinal);
            Assert.False(summary.Transactions.Single().Accepted, context);
        }

        // A peer's fault is never SmtpLens's bug (a client reset mid-handshake once ended as InternalError).
        Assert.True(summary.Reason != SessionEndReason.InternalError, $"internal error; {context}");
        Assert.True(Expected(at, side, kind).Stages.Contains(namedStage), $"unexpected stage; {context}");
        Assert.True(Expected(at, side, kind).Sides.Contains(namedSide), $"unexpected side; {context}");
        Assert.Contains($"at stage {namedStage}, {namedSide} side", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    /// <summary>Where the transcript may place each fault. Several answers only where the race is real: a client that
    /// closes right after a command may or may not have seen the upstream answer it first.</summary>
    private static (string[] Stages, string[] Sides) Expected(FaultStage at, string side, FaultKind kind) => (side, at, kind) switch
    {
        // A reset right after the accept can reach the proxy before its connect completes: then it is a failed connect.
        ("upstream", FaultStage.Connect or FaultStage.Banner, FaultKind.Reset) => (["connect", "banner"], ["upstream"]),
        ("upstream", FaultStage.Connect, _) => (["connect"], ["upstream"]),
        // A stalled upstream that stops reading mid-DATA: content up to the dot may still fit in the socket buffers.
        ("upstream", FaultStage.Data, FaultKind.Stall) => (["data", "after-final-dot"], ["upstream"]),
        ("upstream", _, _) => ([Name(at)], ["upstream"]),
        ("client", FaultStage.Connect, FaultKind.Stall) => (["ehlo"], ["client"]),
        ("client", FaultStage.Connect, _) => (["banner", "ehlo"], ["client"]),
        ("client", FaultStage.Banner, _) => (["ehlo"], ["client"]),
        ("client", FaultStage.StartTls, FaultKind.Stall) => (["tls-handshake"], ["client"]),
        ("client", FaultStage.StartTls, _) => (["starttls", "tls-handshake"], ["client"]),
        ("client", FaultStage.AfterFinalDot, _) => (["after-final-dot", "mail"], ["client"]),
        // QUIT sent, then the client vanishes: the upstream's 221 and close may be seen first.
        ("client", FaultStage.Quit, _) => (["quit"], ["client", "upstream"]),
        _ => ([Name(at)], ["client"]),
    };

    private static string Name(FaultStage stage) => Stages[(int)stage];

    private static Task<LabClientResult> HealthyAsync(RelayFixture f) =>
        LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("healthy beside a fault\r\n")], new LabClientOptions { Timeout = TimeSpan.FromSeconds(30) }, CancellationToken.None);

    private static async Task<IReadOnlyList<SmtpLens.Relay.SessionSummary>> WaitForClientAsync(RelayFixture f, string client)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var summaries = await f.WaitForSessionsAsync(0);
            if (summaries.Any(s => s.Client == client) || DateTime.UtcNow > deadline)
            {
                return summaries;
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Walks banner, EHLO, STARTTLS, TLS, EHLO (for the TLS stages) or banner, EHLO, MAIL, RCPT, DATA, QUIT,
    /// and at <c>at</c> misbehaves itself when given a fault; either way it reads until the proxy ends the session.</summary>
    private sealed class FaultyClient : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        private readonly List<byte> _received = [];
        private Stream? _stream;
        private string _issuer = string.Empty;

        public string EndPoint { get; private set; } = string.Empty;

        public byte[] Received => [.. _received];

        public void Dispose()
        {
            _stream?.Dispose();
            _socket.Dispose();
        }

        /// <param name="issuer">SmtpLens's interception CA: the only issuer the client accepts under STARTTLS.</param>
        public static async Task<FaultyClient> RunAsync(RelayFixture f, FaultStage at, FaultKind? fault, string issuer)
        {
            var client = new FaultyClient { _issuer = issuer };
            await client._socket.ConnectAsync(f.ProxyEndPoint);
            client.EndPoint = client._socket.LocalEndPoint!.ToString()!;
            client._stream = new NetworkStream(client._socket, ownsSocket: false);
            try
            {
                if (!await client.WalkAsync(at, fault))
                {
                    await client.ReadToEndAsync();
                }
            }
            catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
            {
                // The proxy ended the session under the client's feet: that is the fault's outcome, judged by the test.
            }
            finally
            {
                client.Dispose();
            }

            return client;
        }

        /// <summary>True when the client injected its fault (and is done); false when the session ended before.</summary>
        private async Task<bool> WalkAsync(FaultStage at, FaultKind? fault)
        {
            async Task<bool> Inject()
            {
                if (fault is not { } kind)
                {
                    return false;
                }

                switch (kind)
                {
                    case FaultKind.Reset:
                        _socket.LingerState = new LingerOption(true, 0);
                        _socket.Close();
                        break;
                    case FaultKind.Close:
                        _socket.Shutdown(SocketShutdown.Send);
                        await ReadToEndAsync();
                        break;
                    default:
                        // Silent: the proxy's idle timeout must end it.
                        await ReadToEndAsync();
                        break;
                }

                return true;
            }

            if (at == FaultStage.Connect && await Inject())
            {
                return true;
            }

            if (!await ReplyAsync() || (at == FaultStage.Banner && await Inject()))
            {
                return at == FaultStage.Banner && fault is not null;
            }

            if (at == FaultStage.Ehlo && fault is not null)
            {
                await SendAsync("EHLO fault.cl");
                return await Inject();
            }

            if (!await CommandAsync("EHLO fault.client.test\r\n"))
            {
                return false;
            }

            if (at is FaultStage.StartTls or FaultStage.TlsHandshake)
            {
                if (at == FaultStage.StartTls && fault is FaultKind.Close or FaultKind.Reset)
                {
                    await SendAsync("STARTTLS\r\n");
                    return await Inject();
                }

                if (!await CommandAsync("STARTTLS\r\n"))
                {
                    return false;
                }

                if (fault is not null)
                {
                    if (at == FaultStage.TlsHandshake)
                    {
                        // A ClientHello record header and a few bytes of it, then the fault.
                        await _stream!.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03 });
                    }

                    return await Inject();
                }

                var ssl = new SslStream(_stream!, leaveInnerStreamOpen: true);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "rec.upstream.test", RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Issuer == _issuer });
                _stream = ssl;
                return false;
            }

            if (!await CommandAsync("MAIL FROM:<fault@client.test>\r\n") || !await CommandAsync("RCPT TO:<rcpt@upstream.test>\r\n") || !await CommandAsync("DATA\r\n"))
            {
                return false;
            }

            var content = new StringBuilder("Subject: fault\r\n\r\n");
            while (content.Length < 64 * 1024)
            {
                content.Append("a line of message content, long enough to matter\r\n");
            }

            if (at == FaultStage.Data && fault is not null)
            {
                await SendAsync(content.ToString(0, 100));
                return await Inject();
            }

            // Half, a pause, the rest: an upstream that fails after the first bytes of content does so mid-message.
            await SendAsync(content.ToString(0, content.Length / 2));
            await Task.Delay(300);
            await SendAsync(content.ToString(content.Length / 2, content.Length - (content.Length / 2)) + ".\r\n");
            if (at == FaultStage.AfterFinalDot && fault is not null)
            {
                return await Inject();
            }

            if (!await ReplyAsync())
            {
                return false;
            }

            await SendAsync("QUIT\r\n");
            return at == FaultStage.Quit && await Inject();
        }

        private async Task SendAsync(string text) => await _stream!.WriteAsync(Encoding.ASCII.GetBytes(text));

        private async Task<bool> CommandAsync(string command)
        {
            await SendAsync(command);
            return await ReplyAsync();
        }

        /// <summary>Reads one whole reply byte by byte; false if the session ended first.</summary>
        private async Task<bool> ReplyAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var line = new List<byte>();
            var one = new byte[1];
            while (await _stream!.ReadAsync(one, cts.Token) == 1)
            {
                _received.Add(one[0]);
                line.Add(one[0]);
                if (one[0] == (byte)'\n')
                {
                    if (line.Count < 4 || line[3] != (byte)'-')
                    {
                        return true;
                    }

                    line.Clear();
                }
            }

            return false;
        }

        private async Task ReadToEndAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var buffer = new byte[8192];
            int n;
            while ((n = await _stream!.ReadAsync(buffer, cts.Token)) > 0)
            {
                _received.AddRange(buffer.AsSpan(0, n));
            }
        }
    }
}
