using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>
/// Tests of the real-peer harness itself, with no SmtpLens in the path: if these fail, proxy tests built on the
/// harness cannot be trusted. "Intact" everywhere means DeliveredMessage.Content (delivered bytes minus the
/// Received: fields harness Postfixes prepended) equals PostfixInstance.StoredForm(sent bytes) (CRLF -> LF).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PostfixHarnessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Swaks_To_Postfix_Delivers_Message_Intact()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "sink" });
        var message = SampleMessage("intact");

        var swaks = await Swaks.SendAsync(postfix.Host, postfix.Port, new SwaksOptions
        {
            From = "alice@client.test",
            To = ["bob@example.test"],
            Message = message,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal("alice@client.test", delivery.Sender);
        Assert.Equal("bob@example.test", delivery.Recipient);
        Assert.Equal(Encoding.Latin1.GetString(PostfixInstance.StoredForm(message)), delivery.ContentText);
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);

        // Exactly one Received: was prepended, by this instance, naming the loopback client.
        var prepended = Encoding.Latin1.GetString(delivery.Raw, 0, delivery.Raw.Length - delivery.Content.Length);
        Assert.StartsWith("Received: from swaks.client.test (unknown [127.0.0.1])\n\tby " + postfix.Hostname + " (Postfix)", prepended);
        Assert.Single(prepended.Split('\n'), l => l.StartsWith("Received:", StringComparison.Ordinal));
        await postfix.WaitForLogLinesAsync($"{delivery.QueueId}: client=unknown[127.0.0.1]");
    }

    [Fact]
    public async Task Swaks_Pipeline_Two_Recipients_Both_Delivered_Intact()
    {
        await using var postfix = await PostfixInstance.StartAsync();
        var message = SampleMessage("pipelined");

        var swaks = await Swaks.SendAsync(postfix.Host, postfix.Port, new SwaksOptions
        {
            To = ["first@example.test", "second@example.test"],
            Message = message,
            Pipeline = true,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var deliveries = await postfix.WaitForDeliveriesAsync(2, DeliveryTimeout);
        Assert.Equal(["first@example.test", "second@example.test"], deliveries.Select(d => d.Recipient).Order());
        Assert.Single(deliveries.Select(d => d.QueueId).Distinct());
        Assert.All(deliveries, d => Assert.Equal(PostfixInstance.StoredForm(message), d.Content));
        await postfix.WaitForLogLinesAsync("ehlo=1 mail=1 rcpt=2 data=1 quit=1");
    }

    [Fact]
    public async Task Pipelined_Session_Two_Messages_Both_Delivered_Intact()
    {
        // swaks sends one transaction per connection; RFC 2920 grouping across two transactions needs a
        // hand-written client: [MAIL RCPT DATA] [content1 MAIL RCPT DATA] [content2 QUIT].
        await using var postfix = await PostfixInstance.StartAsync();
        var first = SampleMessage("first of two");
        var second = SampleMessage("second of two");

        var replies = await SendPipelinedAsync(
            postfix.Host,
            postfix.Port,
            [("one@client.test", "one@example.test", first), ("two@client.test", "two@example.test", second)]);

        Assert.Equal(["220", "250", "250", "250", "354", "250", "250", "250", "354", "250", "221"], replies.Select(r => r[..3]));
        var deliveries = await postfix.WaitForDeliveriesAsync(2, DeliveryTimeout);
        Assert.Equal(2, deliveries.Count);
        var byRecipient = deliveries.ToDictionary(d => d.Recipient);
        Assert.Equal("one@client.test", byRecipient["one@example.test"].Sender);
        Assert.Equal(PostfixInstance.StoredForm(first), byRecipient["one@example.test"].Content);
        Assert.Equal("two@client.test", byRecipient["two@example.test"].Sender);
        Assert.Equal(PostfixInstance.StoredForm(second), byRecipient["two@example.test"].Content);
        await postfix.WaitForLogLinesAsync("ehlo=1 mail=2 rcpt=2 data=2 quit=1");
    }

    [Fact]
    public async Task Relay_Chain_Postfix_To_Postfix_Delivers_Message_Intact()
    {
        await using var target = await PostfixInstance.StartAsync(new PostfixOptions { Name = "target" });
        await using var relay = await PostfixInstance.StartRelayAsync(target.Host, target.Port);
        var message = SampleMessage("relayed");

        var swaks = await Swaks.SendAsync(relay.Host, relay.Port, new SwaksOptions
        {
            From = "carol@client.test",
            To = ["dave@example.test"],
            Message = message,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await target.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal("carol@client.test", delivery.Sender);
        Assert.Equal("dave@example.test", delivery.Recipient);
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);

        // The target saw the relay's smtp client (EHLO = relay's myhostname), and the relay logged the hop.
        Assert.StartsWith($"Received: from {relay.Hostname} (unknown [127.0.0.1])", Encoding.Latin1.GetString(delivery.Raw));
        await relay.WaitForLogLinesAsync($"relay=127.0.0.1[127.0.0.1]:{target.Port}, ");
        await relay.WaitForLogLinesAsync("status=sent (250 2.0.0 Ok: queued as ");
    }

    [Fact]
    public async Task Relay_Chain_With_Smtp_Tls_Encrypt_Delivers_Message_Intact()
    {
        await using var target = await PostfixInstance.StartAsync(new PostfixOptions { Name = "target", SelfSignedTls = true });
        await using var relay = await PostfixInstance.StartRelayAsync(target.Host, target.Port, new PostfixOptions
        {
            Name = "relay",
            MainCf = new Dictionary<string, string>
            {
                ["smtp_tls_security_level"] = "encrypt",
                ["smtp_tls_loglevel"] = "1",
            },
        });
        var message = SampleMessage("relayed over TLS");

        var swaks = await Swaks.SendAsync(relay.Host, relay.Port, new SwaksOptions { Message = message });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await target.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await relay.WaitForLogLinesAsync($"TLS connection established to 127.0.0.1[127.0.0.1]:{target.Port}");
        await target.WaitForLogLinesAsync("TLS connection established from unknown[127.0.0.1]");
        Assert.Contains("with ESMTPS", Encoding.Latin1.GetString(delivery.Raw));
    }

    [Fact]
    public async Task Swaks_StartTls_To_Postfix_Delivers_Message_Intact()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { SelfSignedTls = true });
        var message = SampleMessage("starttls");

        var swaks = await Swaks.SendAsync(postfix.Host, postfix.Port, new SwaksOptions
        {
            Message = message,
            Tls = SwaksTls.StartTls,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        Assert.Contains("TLS started", swaks.Output);
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await postfix.WaitForLogLinesAsync("TLS connection established from unknown[127.0.0.1]");
    }

    [Fact]
    public async Task Swaks_TlsOnConnect_To_Postfix_Wrappermode_Delivers_Message_Intact()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            SelfSignedTls = true,
            MainCf = new Dictionary<string, string> { ["smtpd_tls_wrappermode"] = "yes" },
        });
        var message = SampleMessage("implicit tls");

        var swaks = await Swaks.SendAsync(postfix.Host, postfix.Port, new SwaksOptions
        {
            Message = message,
            Tls = SwaksTls.TlsOnConnect,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await postfix.WaitForLogLinesAsync("TLS connection established from unknown[127.0.0.1]");
    }

    [Fact]
    public async Task MainCf_Parameters_Reach_Smtpd()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions
        {
            MainCf = new Dictionary<string, string> { ["smtpd_discard_ehlo_keywords"] = "pipelining, chunking" },
        });

        var swaks = await Swaks.SendAsync(postfix.Host, postfix.Port, new SwaksOptions { QuitAfter = "EHLO" });

        Assert.True(swaks.Succeeded, swaks.ToString());
        Assert.Contains("250-8BITMIME", swaks.Output);
        Assert.DoesNotContain("PIPELINING", swaks.Output);
        Assert.DoesNotContain("CHUNKING", swaks.Output);
    }

    [Fact]
    public async Task Sendmail_Into_Relay_Instance_Arrives_At_Target()
    {
        await using var target = await PostfixInstance.StartAsync(new PostfixOptions { Name = "target" });
        await using var relay = await PostfixInstance.StartRelayAsync(target.Host, target.Port);

        await relay.SendmailAsync("erin@client.test", ["frank@example.test"], "Subject: via sendmail\n\nlocal submission\n"u8.ToArray());

        var delivery = Assert.Single(await target.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal("erin@client.test", delivery.Sender);
        Assert.Equal("frank@example.test", delivery.Recipient);

        // Local submission is not byte-exact: cleanup adds Message-ID/Date/From.
        Assert.Contains("Subject: via sendmail\n", delivery.ContentText);
        Assert.EndsWith("\n\nlocal submission\n", delivery.ContentText);
    }

    [Fact]
    public async Task Swaks_To_SmtpSink_Records_Envelope_And_Content()
    {
        await using var sink = await SmtpSink.StartAsync();
        var message = SampleMessage("sink");

        var swaks = await Swaks.SendAsync(sink.Host, sink.Port, new SwaksOptions
        {
            From = "grace@client.test",
            To = ["heidi@example.test", "ivan@example.test"],
            Message = message,
            Pipeline = true,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var transaction = Assert.Single(await sink.WaitForTransactionsAsync(1, DeliveryTimeout));
        Assert.Equal("127.0.0.1", transaction.ClientAddress);
        Assert.Equal("swaks.client.test", transaction.Helo);
        Assert.Equal("<grace@client.test>", transaction.MailArgs);
        Assert.Equal(["<heidi@example.test>", "<ivan@example.test>"], transaction.RcptArgs);
        Assert.Equal(PostfixInstance.StoredForm(message), transaction.Content);
    }

    [Fact]
    public async Task Start_And_Dispose_Leave_No_Listener_Processes_Or_Files()
    {
        var clock = Stopwatch.StartNew();
        var postfix = await PostfixInstance.StartAsync();
        var started = clock.Elapsed;
        var (port, root) = (postfix.Port, postfix.RootDirectory);
        Assert.True(Directory.Exists(Path.Combine(root, "spool", "pid")));
        Assert.StartsWith("220 ", await SmtpWire.ProbeBannerAsync(postfix.Host, port, CancellationToken.None));

        clock.Restart();
        await postfix.DisposeAsync();
        var stopped = clock.Elapsed;
        output.WriteLine($"start (incl. 220 banner) {started.TotalMilliseconds:0} ms ({postfix.StartupReport}), stop + cleanup {stopped.TotalMilliseconds:0} ms");

        Assert.False(Directory.Exists(root));
        using var client = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task Instances_Started_In_Parallel_Use_Distinct_Ports_And_Stay_Isolated()
    {
        var instances = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => PostfixInstance.StartAsync()));
        try
        {
            Assert.Equal(3, instances.Select(i => i.Port).Distinct().Count());
            foreach (var (instance, index) in instances.Select((i, n) => (i, n)))
            {
                var swaks = await Swaks.SendAsync(instance.Host, instance.Port, new SwaksOptions
                {
                    To = [$"rcpt{index}@example.test"],
                    Message = SampleMessage($"instance {index}"),
                });
                Assert.True(swaks.Succeeded, swaks.ToString());
            }

            foreach (var (instance, index) in instances.Select((i, n) => (i, n)))
            {
                var delivery = Assert.Single(await instance.WaitForDeliveriesAsync(1, DeliveryTimeout));
                Assert.Equal($"rcpt{index}@example.test", delivery.Recipient);
            }
        }
        finally
        {
            foreach (var instance in instances)
            {
                await instance.DisposeAsync();
            }
        }
    }

    [Fact]
    public void DotStuff_Doubles_Leading_Dots_And_Leaves_Terminator_For_Swaks()
    {
        var stuffed = Swaks.DotStuff("A: b\r\n\r\n.one\r\nx.y\r\n..two\r\n"u8.ToArray());

        Assert.Equal("A: b\r\n\r\n..one\r\nx.y\r\n...two\r\n.", Encoding.ASCII.GetString(stuffed));
        Assert.Throws<ArgumentException>(() => Swaks.DotStuff("no final CRLF"u8.ToArray()));
    }

    [Fact]
    public void StripHarnessReceived_Removes_Only_Harness_Received_Fields()
    {
        var raw = Encoding.Latin1.GetBytes(
            "Received: from a (unknown [127.0.0.1])\n\tby target-1.harness.smtplens.test (Postfix) with ESMTP id 1\n" +
            "Received: from b (unknown [127.0.0.1])\n\tby relay-2.harness.smtplens.test (Postfix) with ESMTP id 2;\n\tdate\n" +
            "Received: from c by mx.client.test (Postfix)\n" +
            "Subject: s\n\nbody\n");

        Assert.Equal("Received: from c by mx.client.test (Postfix)\nSubject: s\n\nbody\n", Encoding.Latin1.GetString(PostfixInstance.StripHarnessReceived(raw)));
    }

    /// <summary>
    /// A message that exercises what a careless path breaks: dot-stuffing, a folded header, Bcc: (Postfix drops
    /// it by default), trailing blanks, an empty body line, 8-bit bytes and a long line.
    /// </summary>
    private static byte[] SampleMessage(string subject)
    {
        var text =
            "From: Sender <sender@client.test>\r\n" +
            "To: rcpt@example.test\r\n" +
            "Bcc: hidden@example.test\r\n" +
            $"Subject: {subject}\r\n" +
            "X-Folded: first part\r\n\tsecond part  \r\n" +
            "Message-ID: <" + Guid.NewGuid().ToString("N") + "@client.test>\r\n" +
            "\r\n" +
            ".leading dot\r\n" +
            "..two leading dots\r\n" +
            ".\r\n" +
            "\r\n" +
            "trailing blanks   \r\n" +
            "caf\u00e9 8bit\r\n" +
            new string('x', 900) + "\r\n" +
            "end\r\n";
        return Encoding.Latin1.GetBytes(text);
    }

    private static async Task<List<string>> SendPipelinedAsync(string host, int port, IReadOnlyList<(string From, string To, byte[] Message)> mails)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var token = timeout.Token;
        using var client = new TcpClient();
        await client.ConnectAsync(host, port, token);
        var stream = client.GetStream();
        var replies = new List<string> { await SmtpWire.ReadReplyAsync(stream, token) };

        await stream.WriteAsync("EHLO pipeliner.client.test\r\n"u8.ToArray(), token);
        var ehlo = await SmtpWire.ReadReplyAsync(stream, token);
        Assert.Contains("PIPELINING", ehlo);
        replies.Add(ehlo);

        byte[] pendingContent = [];
        foreach (var (from, to, message) in mails)
        {
            var group = pendingContent.Concat(Encoding.ASCII.GetBytes($"MAIL FROM:<{from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n")).ToArray();
            await stream.WriteAsync(group, token);
            for (var i = pendingContent.Length > 0 ? 4 : 3; i > 0; i--)
            {
                replies.Add(await SmtpWire.ReadReplyAsync(stream, token));
            }

            pendingContent = [.. Swaks.DotStuff(message), .. "\r\n"u8];
        }

        byte[] last = [.. pendingContent, .. "QUIT\r\n"u8];
        await stream.WriteAsync(last, token);
        replies.Add(await SmtpWire.ReadReplyAsync(stream, token));
        replies.Add(await SmtpWire.ReadReplyAsync(stream, token));
        return replies;
    }
}
