using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SmtpLens.Lab;
using SmtpLens.Net;
using SmtpLens.Relay;
using SmtpLens.StateMachine;

namespace SmtpLens.IntegrationTests.Relay;

/// <summary>Client -> SmtpLens -> lab upstream over real loopback sockets.</summary>
public sealed class RelayTests
{
    private static Task<LabClientResult> SendAsync(RelayFixture f, LabClientOptions? options = null, params LabMessage[] messages) =>
        LabSmtpClient.SendAsync(f.ProxyEndPoint, messages, options ?? new LabClientOptions(), CancellationToken.None);

    /// <summary>Sends one message in one session, checks it was delivered and arrived byte for byte, and returns the session.</summary>
    private static async Task<SessionSummary> RelayOneIntactAsync(RelayFixture f, LabMessage message)
    {
        var result = await SendAsync(f, null, message);
        Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail);
        await f.Upstream!.WaitForMessagesAsync(1, TimeSpan.FromSeconds(5));
        AssertArrivedIntact(f, message);
        return (await f.WaitForSessionsAsync(1)).Single();
    }

    private static void AssertArrivedIntact(RelayFixture f, params LabMessage[] sent)
    {
        var received = f.Upstream!.Received.Select(r => r.Sha256).ToHashSet();
        foreach (var message in sent)
        {
            Assert.Contains(TestMessages.Sha256(message.Content), received);
        }
    }

    [Fact]
    public async Task Data_Message_Arrives_Intact_And_Transcripts_Are_Written()
    {
        await using var f = await RelayFixture.StartAsync();
        var message = TestMessages.Text("Hello through the proxy.\r\n");
        var summary = await RelayOneIntactAsync(f, message);

        Assert.Equal(SessionEndReason.Quit, summary.Reason);
        Assert.Equal(TestMessages.Sha256(message.Content), summary.Transactions.Single().Sha256);
        Assert.Equal(message.Content.Length, summary.Transactions.Single().Size);

        var log = f.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains(" C: MAIL FROM:<sender@example.test>", log, StringComparison.Ordinal);
        Assert.Contains(" S: 250 2.0.0 Ok: queued as", log, StringComparison.Ordinal);
        Assert.Contains("*   | Subject: test", log, StringComparison.Ordinal);

        var events = f.ReadTranscript(summary.SessionId, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(events, e => Assert.Equal(summary.SessionId, e.GetProperty("session").GetString()));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Contains(events, e => e.GetProperty("kind").GetString() == "message" && e.GetProperty("data").GetProperty("sha256").GetString() == TestMessages.Sha256(message.Content));

        var csv = f.ReadTranscript(summary.SessionId, ".csv").Split("\r\n".ToCharArray(), StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context", csv);
        Assert.Contains(csv, l => l.Contains(",>,MAIL FROM:<sender@example.test>,", StringComparison.Ordinal));
        Assert.Contains(csv, l => l.Contains(",<,220 ", StringComparison.Ordinal));
        Assert.Contains(csv, l => l.Contains(",+,,", StringComparison.Ordinal));
        Assert.Contains(csv, l => l.Contains(",-,,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TranscriptDirectory_CannotBeWritten_MailIsStillRelayedAndTheErrorLogged()
    {
        await using var f = await RelayFixture.StartAsync();
        File.WriteAllText(f.TranscriptDirectory, "a file where the transcript directory should be");
        var message = TestMessages.Text("Relayed although no transcript can be written.\r\n");

        var summary = await RelayOneIntactAsync(f, message);

        Assert.Equal(SessionEndReason.Quit, summary.Reason);
        var error = Assert.Single(f.Log.Lines, l => l.Text.Contains("cannot write transcript files", StringComparison.Ordinal));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, error.Level);
        Assert.StartsWith(summary.SessionId, error.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DotStuffed_Lines_Arrive_Unchanged()
    {
        await using var f = await RelayFixture.StartAsync();
        var message = TestMessages.Text(".leading dot\r\n..two dots\r\n.\r\n...\r\nlast line\r\n");
        var result = await SendAsync(f, null, message);
        Assert.True(result.Fates.Single().Delivered);
        await f.Upstream!.WaitForMessagesAsync(1, TimeSpan.FromSeconds(5));
        AssertArrivedIntact(f, message);
    }

    [Fact]
    public async Task EightBit_Data_And_Binary_Bdat_Arrive_Intact()
    {
        await using var f = await RelayFixture.StartAsync();
        var eightBit = TestMessages.Text("Grüße, ça va? \u00ff\u00fe 日本語\r\n");
        var binary = TestMessages.Binary(300_000, 7, 65_536);
        var binarySmallChunks = TestMessages.Binary(10_000, 8, 777);
        var result = await SendAsync(f, null, eightBit, binary, binarySmallChunks);
        Assert.All(result.Fates, fate => Assert.True(fate.Delivered, fate.Detail));
        await f.Upstream!.WaitForMessagesAsync(3, TimeSpan.FromSeconds(5));
        AssertArrivedIntact(f, eightBit, binary, binarySmallChunks);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(["DATA", "BDAT", "BDAT"], summary.Transactions.Select(t => t.Method));
        Assert.Equal(TestMessages.Sha256(binary.Content), summary.Transactions[1].Sha256);
    }

    [Fact]
    public async Task Fifty_Megabyte_Message_Arrives_Intact()
    {
        await using var f = await RelayFixture.StartAsync();
        var message = TestMessages.Large(50 * 1024 * 1024, 50);
        var result = await SendAsync(f, null, message);
        Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail);
        await f.Upstream!.WaitForMessagesAsync(1, TimeSpan.FromSeconds(10));
        AssertArrivedIntact(f, message);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(message.Content.Length, summary.Transactions.Single().Size);
        Assert.True(summary.BytesFromClient > message.Content.Length, "the wire carries at least the content");
    }

    [Fact]
    public async Task Pipelined_Transactions_Are_Matched_In_Order()
    {
        await using var f = await RelayFixture.StartAsync();
        var messages = Enumerable.Range(1, 5).Select(i => TestMessages.Text($"message {i}\r\n", $"pipelined {i}")).ToArray();
        var result = await SendAsync(f, new LabClientOptions { Pipelining = true }, messages);
        Assert.All(result.Fates, fate => Assert.True(fate.Delivered, fate.Detail));
        await f.Upstream!.WaitForMessagesAsync(5, TimeSpan.FromSeconds(5));
        AssertArrivedIntact(f, messages);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(5, summary.Transactions.Count);
        Assert.All(summary.Transactions, t => Assert.True(t.Accepted));
        Assert.Equal(messages.Select(m => TestMessages.Sha256(m.Content)), summary.Transactions.Select(t => t.Sha256));
    }

    [Fact]
    public async Task Relay_Is_Byte_Exact_In_Both_Directions()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions());
        upstream.Start();
        await using var tap = new ByteTap(upstream.EndPoint);
        await using var f = await RelayFixture.StartAsync(null, tap.EndPoint);
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO  raw.example.test  \r\nMAIL FROM:<a@example.test> BODY=8BITMIME\r\nRCPT TO:<b@example.test>\r\nnoop\nDATA\r\n");
        Assert.True(await client.ReadUntilAsync("354 "));
        await client.SendAsync(Encoding.UTF8.GetBytes("Subject: raw\r\n\r\n..stuffed\r\nbare LF\nbare CR\rstill\r\n\u00e4\u00f6\u00fc\r\n.\r\n"));
        Assert.True(await client.ReadUntilAsync("queued as"));
        await client.SendAsync("QUIT\r\n");
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(5)));
        await f.WaitForSessionsAsync(1);

        Assert.Equal(client.Sent, tap.FromProxy);
        Assert.Equal(tap.FromUpstream, client.Received);
    }

    [Fact]
    public async Task Upstream_Dropping_Mid_Data_Never_Gets_The_Client_A_250()
    {
        await using var f = await RelayFixture.StartAsync(new LabServerOptions { DropAfterContentBytes = 100_000 });
        var message = TestMessages.Large(2 * 1024 * 1024, 3);
        var result = await SendAsync(f, null, message);
        var fate = result.Fates.Single();
        Assert.False(fate.Delivered);
        Assert.Null(fate.FinalReply);
        Assert.StartsWith("connection lost", fate.Detail, StringComparison.Ordinal);
        Assert.Empty(f.Upstream!.Received);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Contains(summary.Reason, new[] { SessionEndReason.UpstreamClosedMidMessage, SessionEndReason.UpstreamError });
        Assert.False(summary.Transactions.Single().Accepted);
    }

    [Fact]
    public async Task Client_Vanishing_Mid_Data_Is_Reported_And_Nothing_Is_Delivered()
    {
        await using var f = await RelayFixture.StartAsync();
        await using (var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint))
        {
            Assert.True(await client.ReadUntilAsync("220 "));
            await client.SendAsync("EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
            Assert.True(await client.ReadUntilAsync("354 "));
            await client.SendAsync("Subject: cut\r\n\r\nhalf a message");
            client.Close();
        }

        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.ClientClosedMidMessage, summary.Reason);
        await Task.Delay(200);
        Assert.Empty(f.Upstream!.Received);
        Assert.Contains("client closed the connection in the middle of message content", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_Upstream_Gets_The_Client_A_421()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var f = await RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, port));
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(10)));
        Assert.StartsWith("421 4.4.0 SmtpLens: upstream 127.0.0.1:" + port + " unreachable", client.ReceivedText, StringComparison.Ordinal);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.UpstreamUnreachable, summary.Reason);
        Assert.Contains("upstream-failed", f.ReadTranscript(summary.SessionId, ".jsonl"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Overlong_Command_Ends_Only_That_Session_And_Is_Not_Forwarded()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions());
        upstream.Start();
        await using var tap = new ByteTap(upstream.EndPoint);
        await using var f = await RelayFixture.StartAsync(null, tap.EndPoint, new RelayOptions { MaxLineLength = 1024 });
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        await client.SendAsync("EHLO ok\r\n");
        Assert.True(await client.ReadUntilAsync("250 "));
        await client.SendAsync("NOOP " + new string('x', 5000) + "\r\n");
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(5)), "the proxy closes the session");
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.CommandLineTooLong, summary.Reason);
        Assert.Equal("EHLO ok\r\n", Encoding.ASCII.GetString(tap.FromProxy));
        Assert.Contains("command line longer than 1024 bytes", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Idle_Session_Times_Out_With_A_Limit_Event()
    {
        await using var f = await RelayFixture.StartAsync(relay: new RelayOptions { IdleTimeout = TimeSpan.FromMilliseconds(1500) });
        await using var client = await RawSmtpClient.ConnectAsync(f.ProxyEndPoint);
        Assert.True(await client.ReadUntilAsync("220 "));
        Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(10)));
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.IdleTimeout, summary.Reason);
        Assert.Contains("\"kind\":\"limit\"", f.ReadTranscript(summary.SessionId, ".jsonl"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Twenty_Concurrent_Sessions_Each_Deliver_Intact()
    {
        await using var f = await RelayFixture.StartAsync();
        var batches = Enumerable.Range(0, 20).Select(i => Enumerable.Range(0, 3).Select(j => TestMessages.Large(4096 + (i * 97) + j, (i * 10) + j)).ToArray()).ToArray();
        var results = await Task.WhenAll(batches.Select(b => SendAsync(f, new LabClientOptions { Pipelining = true }, b)));
        Assert.All(results.SelectMany(r => r.Fates), fate => Assert.True(fate.Delivered, fate.Detail));
        await f.Upstream!.WaitForMessagesAsync(60, TimeSpan.FromSeconds(10));
        AssertArrivedIntact(f, [.. batches.SelectMany(b => b)]);
        var summaries = await f.WaitForSessionsAsync(20);
        Assert.Equal(20, summaries.Select(s => s.SessionId).Distinct().Count());
        Assert.Equal(summaries.Select(s => s.SessionId).Order(StringComparer.Ordinal), Directory.GetFiles(f.TranscriptDirectory, "*.log").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Auth_Secrets_Never_Reach_Any_Transcript()
    {
        await using var f = await RelayFixture.StartAsync();
        var result = await SendAsync(f, new LabClientOptions { AuthPlain = ("alice", "s3cr3t-Pa55") }, TestMessages.Text("x\r\n"));
        Assert.True(result.Fates.Single().Delivered);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var token = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0alice\0s3cr3t-Pa55"));
        foreach (var ext in new[] { ".log", ".jsonl", ".csv" })
        {
            var text = f.ReadTranscript(summary.SessionId, ext);
            Assert.DoesNotContain(token, text, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cr3t-Pa55", text, StringComparison.Ordinal);
            Assert.Contains("AUTH PLAIN <redacted", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Ipv6_Loopback_On_Both_Legs_Relays_Intact_And_Transcripts_Name_The_Endpoints()
    {
        await using var server = new LabSmtpServer(new LabServerOptions(), new IPEndPoint(IPAddress.IPv6Loopback, 0));
        server.Start();
        await using var f = await RelayFixture.StartAsync(null, server.EndPoint, configure: l => l with { Listen = new HostPort("::1", 0) });
        var message = TestMessages.Text("Over IPv6 on both legs.\r\n");

        Assert.Equal(AddressFamily.InterNetworkV6, f.ProxyEndPoint.AddressFamily);
        var result = await SendAsync(f, null, message);

        Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail);
        var received = await server.WaitForMessagesAsync(1, TimeSpan.FromSeconds(5));
        Assert.Equal(TestMessages.Sha256(message.Content), received.Single().Sha256);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.StartsWith("[::1]:", summary.Client, StringComparison.Ordinal);
        Assert.Equal($"[::1]:{server.EndPoint.Port}", summary.Upstream);
        Assert.Contains($"# client {summary.Client} -> smtplens [::1]:{f.ProxyEndPoint.Port}", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
        Assert.Contains($",{summary.Client},[::1]:{server.EndPoint.Port},+,", f.ReadTranscript(summary.SessionId, ".csv"), StringComparison.Ordinal);
    }
}
