using System.Buffers;
using System.Text;
using SmtpLens.Protocol;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Fuzz;

/// <summary>Garnet-style robustness: thousands of random and half-SMTP buffers, fixed seeds, no exception
/// may escape and nothing may be consumed that was not presented. A failure names the seed and the input
/// as a <c>byte[]</c> literal, ready to become a regression test.</summary>
public sealed class ParserFuzzTests
{
    private static readonly byte[][] ClientTokens =
    [
        .. new[]
        {
            "EHLO x\r\n", "HELO x\r\n", "MAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\r\n", "DATA\r\n", "BDAT 5\r\n", "BDAT 3 LAST\r\n",
            "BDAT 0 LAST\r\n", "BDAT x\r\n", "BDAT 99999999999999\r\n", "STARTTLS\r\n", "AUTH PLAIN\r\n", "AUTH LOGIN dGVzdA==\r\n",
            "QUIT\r\n", "RSET\r\n", "NOOP\r\n", ".\r\n", "\r\n.\r\n", "..\r\n", "\n.\n", "\r.\r", "\r", "\n", "\0", "\xff", "x",
        }.Select(Encoding.Latin1.GetBytes),
    ];

    private static readonly byte[][] ServerTokens =
    [
        .. new[]
        {
            "220 x\r\n", "250 ok\r\n", "250-x\r\n", "250-SIZE 10\r\n", "354 go\r\n", "334 \r\n", "334 VXNlcm5hbWU6\r\n", "235 ok\r\n",
            "221 bye\r\n", "550 no\r\n", "454 no\r\n", "garbage\r\n", "25", "0 x\r\n", "251-y\r\n", "\r", "\n", "\0", "\xff",
        }.Select(Encoding.Latin1.GetBytes),
    ];

    [Fact]
    public void LineFramer_RandomBuffers_NeverThrowsAndNeverTakesMoreThanTheLimit()
    {
        var random = new Random(5321);
        for (var iteration = 0; iteration < 5000; iteration++)
        {
            var input = RandomBytes(random, random.Next(0, 300), ClientTokens);
            var max = random.Next(1, 130);
            var buffer = BufferSegment.Sequence(input, random.Next(1, 40), random.Next(1, 40));
            try
            {
                var taken = 0L;
                LineStatus status;
                while ((status = LineFramer.TryTake(ref buffer, max, out var line)) == LineStatus.Complete)
                {
                    Assert.InRange(line.Length, 1, max);
                    Assert.Equal((byte)'\n', line.Slice(line.Length - 1).FirstSpan[0]);
                    Assert.Equal(-1, line.Slice(0, line.Length - 1).PositionOf((byte)'\n')?.GetInteger() ?? -1);
                    taken += line.Length;
                }

                Assert.Equal(input.Length, taken + buffer.Length);
                Assert.Equal(status == LineStatus.TooLong, buffer.Length >= max && buffer.Slice(0, max).PositionOf((byte)'\n') is null);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"LineFramer iteration {iteration}, max {max}, input {Bytes.Literal(input)}", e);
            }
        }
    }

    [Fact]
    public void ParseClientAndServer_RandomSessions_NeverThrowOrOverConsume()
    {
        var random = new Random(20251117);
        for (var session = 0; session < 3000; session++)
        {
            var log = new List<(Peer Peer, byte[] Bytes)>();
            try
            {
                RunRandomSession(random, log);
            }
            catch (Exception e)
            {
                var replay = string.Join(Environment.NewLine, log.Select(r => $"{r.Peer}: {Bytes.Literal(r.Bytes)}"));
                throw new InvalidOperationException($"session {session} failed; reads in order:{Environment.NewLine}{replay}", e);
            }
        }
    }

    [Fact]
    public void ParseClient_PureGarbage_NeverThrowsAndConsumesOnlyWholeLines()
    {
        var random = new Random(1982);
        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var garbage = new byte[random.Next(0, 512)];
            random.NextBytes(garbage);
            var dialogue = new SmtpDialogue(new RecordingTranscript(), new DialogueOptions { MaxLineLength = 256 });
            var greeting = new ReadOnlySequence<byte>("220 x\r\n"u8.ToArray());
            dialogue.ParseServer(ref greeting, false);
            var buffer = BufferSegment.Sequence(garbage, 7, 3, 11);
            var original = buffer;

            try
            {
                dialogue.ParseClient(ref buffer, random.Next(2) == 0);
                var consumed = original.Slice(0, buffer.Start).Length;
                Assert.InRange(consumed, 0, garbage.Length);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"iteration {iteration}: {Bytes.Literal(garbage)}", e);
            }
        }
    }

    [Fact]
    public void LineParsers_RandomLines_NeverThrow()
    {
        var random = new Random(4954);
        for (var iteration = 0; iteration < 20000; iteration++)
        {
            var line = RandomBytes(random, random.Next(0, 80), iteration % 2 == 0 ? ClientTokens : ServerTokens);
            try
            {
                var command = SmtpCommand.Parse(line);
                _ = command.Path;
                if (BdatArguments.TryParse(command.Arguments, out var bdat))
                {
                    Assert.InRange(bdat.ChunkSize, 0, BdatArguments.MaxChunkSize);
                }

                var text = AsciiText.Escape(line);
                Assert.DoesNotContain('\n', text);
                if (ReplyLine.TryParse(LineFramer.TrimTerminator(line), out var reply))
                {
                    Assert.InRange(reply.Code, 200, 599);
                    var ehlo = EhloReply.From(new SmtpReply([reply], [text]));
                    Assert.Equal(reply.Code == 250, ehlo is not null);
                }
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"iteration {iteration}: {Bytes.Literal(line)}", e);
            }
        }
    }

    private static void RunRandomSession(Random random, List<(Peer Peer, byte[] Bytes)> log)
    {
        var options = new DialogueOptions { MaxLineLength = random.Next(0, 4) == 0 ? random.Next(4, 64) : 1024 };
        var dialogue = new SmtpDialogue(new RecordingTranscript(), options);
        var mode = DialogueReplayer.AllModes[random.Next(DialogueReplayer.AllModes.Length)];
        var segmented = mode is FeedMode.Segmented or FeedMode.Chunked;
        var client = PeerFeeder.Client(dialogue, segmented);
        var server = PeerFeeder.Upstream(dialogue, segmented);
        var reads = random.Next(1, 40);
        for (var i = 0; i < reads; i++)
        {
            var peer = random.Next(2) == 0 ? Peer.Client : Peer.Server;
            var bytes = RandomBytes(random, random.Next(0, 64), peer == Peer.Client ? ClientTokens : ServerTokens);
            log.Add((peer, bytes));
            var feeder = peer == Peer.Client ? client : server;
            foreach (var read in DialogueReplayer.Reads(bytes, mode, random))
            {
                feeder.Deliver(read);
            }

            if (peer == Peer.Server)
            {
                client.ResumeIfReplied();
            }
        }

        if (random.Next(2) == 0)
        {
            client.Close();
            server.Close();
            client.ResumeIfReplied();
        }

        dialogue.Close("fuzz");

        // PeerFeeder already proved every remainder was a suffix of what was presented; the totals must agree.
        Assert.Equal(client.Forwarded.Length, client.ConsumedSum);
        Assert.True(client.ConsumedSum <= client.Received.Length);
        Assert.True(server.ConsumedSum <= server.Received.Length);
        Assert.Equal(client.Received.AsSpan(0, client.Forwarded.Length).ToArray(), client.Forwarded);
        Assert.Equal(server.Received.AsSpan(0, server.Forwarded.Length).ToArray(), server.Forwarded);
        _ = dialogue.Transactions.Select(t => t.Describe()).ToList();
    }

    /// <summary>Random bytes, SMTP tokens, or a mix: garbage alone rarely reaches the interesting states.</summary>
    private static byte[] RandomBytes(Random random, int approximateLength, byte[][] tokens)
    {
        var bytes = new List<byte>(approximateLength + 16);
        while (bytes.Count < approximateLength)
        {
            switch (random.Next(3))
            {
                case 0:
                    bytes.Add((byte)random.Next(256));
                    break;
                default:
                    bytes.AddRange(tokens[random.Next(tokens.Length)]);
                    break;
            }
        }

        return [.. bytes];
    }
}
