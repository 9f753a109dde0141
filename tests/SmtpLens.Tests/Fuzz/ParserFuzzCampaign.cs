using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SmtpLens.Net;
using SmtpLens.Protocol;
using SmtpLens.Tests.Support;
using SmtpLens.Tests.Tls;
using SmtpLens.Tls;
using Xunit.Abstractions;

namespace SmtpLens.Tests.Fuzz;

/// <summary>One fuzz target per pure parser: mutated valid inputs, fixed seeds in CI, and for each input the
/// parser's own contract: only its documented failure, no hang, bounded allocation, and the round trips and
/// split-invariance it promises. bench/fuzz.sh runs any one of them for longer.</summary>
public sealed class ParserFuzzCampaign(ITestOutputHelper output)
{
    private static readonly byte[][] SmtpTokens =
    [
        .. new[] { "\r\n", "\n", "\r", ".", "\r\n.\r\n", "\r\n..", " ", "-", ":", "<", ">", "LAST", "BDAT ", "250-", "250 ", "\0", "\xff", "\xc3\xa9" }.Select(Encoding.Latin1.GetBytes),
    ];

    public static TheoryData<string> Targets => [.. AllTargets.Value.Keys];

    private static readonly Lazy<Dictionary<string, (FuzzTarget Target, int Seed)>> AllTargets = new(() => new Dictionary<string, (FuzzTarget, int)>(StringComparer.Ordinal)
    {
        ["line-framer"] = (LineFramerTarget(), 101),
        ["reply"] = (ReplyTarget(), 102),
        ["command"] = (CommandTarget(), 103),
        ["data-content"] = (DataContentTarget(), 104),
        ["tls-records"] = (TlsRecordsTarget(), 105),
        ["client-hello"] = (HandshakeTarget("client-hello", 1, [TlsHelloVectors.GreaseRecord[9..], TlsHelloVectors.BouncyCastleRecord[9..]]), 106),
        ["server-hello"] = (HandshakeTarget("server-hello", 2, [ServerHelloBody(true), ServerHelloBody(false)]), 107),
        ["certificate"] = (CertificateTarget(), 108),
        ["proxy-header"] = (ProxyHeaderTarget(), 109),
    });

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Target_SurvivesMutatedInput(string target)
    {
        var (fuzz, seed) = AllTargets.Value[target];
        var report = await FuzzLoop.RunAsync(fuzz, seed);
        output.WriteLine(report.ToString());
        Assert.True(report.Iterations > 0, "the loop ran no mutated input");
    }

    /// <summary>The lines taken from one contiguous buffer and from a buffer cut into pieces are the same.</summary>
    private static FuzzTarget LineFramerTarget() => new(
        "line-framer",
        [Bytes.Ascii("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"), Bytes.Ascii("250-x\r\n250 y\nno end"), new byte[300]],
        input =>
        {
            var max = 1 + (input.Length % 97);
            var whole = TakeLines(new ReadOnlySequence<byte>(input), max, out var wholeStatus);
            var cut = TakeLines(BufferSegment.Sequence(input, 1, 3, 7, 2), max, out var cutStatus);
            Assert.Equal(wholeStatus, cutStatus);
            Assert.True(whole.Count == cut.Count && whole.Zip(cut).All(p => p.First.AsSpan().SequenceEqual(p.Second)), "a split changes the lines");
            Assert.True(whole.Sum(l => l.Length) <= input.Length);
            Assert.All(whole, l => Assert.InRange(l.Length, 1, max));
            return $"{wholeStatus}:{Math.Min(whole.Count, 3)}";
        })
    {
        Dictionary = SmtpTokens,
    };

    private static List<byte[]> TakeLines(ReadOnlySequence<byte> buffer, int max, out LineStatus status)
    {
        var lines = new List<byte[]>();
        while ((status = LineFramer.TryTake(ref buffer, max, out var line)) == LineStatus.Complete)
        {
            lines.Add(line.ToArray());
        }

        return lines;
    }

    /// <summary>Reply lines, assembled replies and EHLO keywords; a parsed line re-parses to the same code and sign.</summary>
    private static FuzzTarget ReplyTarget() => new(
        "reply",
        [Bytes.Ascii("250-mx.example.test Hello\r\n250-SIZE 10240000\r\n250-PIPELINING\r\n250 CHUNKING\r\n"), Bytes.Ascii("220 ready\r\n"), Bytes.Ascii("354 go\r\n550-a\r\n551 b\r\n")],
        input =>
        {
            var assembler = new ReplyAssembler();
            var buffer = new ReadOnlySequence<byte>(input);
            var outcome = new StringBuilder();
            while (LineFramer.TryTake(ref buffer, 1024, out var framed) == LineStatus.Complete)
            {
                var line = LineFramer.TrimTerminator(framed.ToArray());
                if (!ReplyLine.TryParse(line, out var reply))
                {
                    outcome.Append('x');
                    continue;
                }

                Assert.InRange(reply.Code, 200, 599);
                var again = Encoding.ASCII.GetBytes($"{reply.Code}{(reply.IsLast ? ' ' : '-')}");
                Assert.True(ReplyLine.TryParse(again, out var reparsed));
                Assert.Equal((reply.Code, reply.IsLast), (reparsed.Code, reparsed.IsLast));
                if (assembler.Add(reply, AsciiText.Escape(line)) is { } complete)
                {
                    Assert.Equal(reply.Code, complete.Code);
                    Assert.Equal(complete.Lines.Count, complete.RawLines.Count);
                    Assert.Equal(complete.Lines.Any(l => l.Code != complete.Lines[0].Code), complete.HasMixedCodes);
                    var ehlo = EhloReply.From(complete);
                    Assert.Equal(complete.Code == 250, ehlo is not null);
                    if (ehlo is not null)
                    {
                        Assert.Equal(complete.Lines.Count - 1, ehlo.Keywords.Count);
                        Assert.All(ehlo.Keywords, k => Assert.Equal(k.Keyword.ToUpperInvariant(), k.Keyword));
                    }

                    outcome.Append(complete.Class).Append(complete.Lines.Count > 1 ? 'm' : 's');
                }
            }

            return outcome.Length > 8 ? outcome.ToString(0, 8) : outcome.ToString();
        })
    {
        Dictionary = SmtpTokens,
    };

    /// <summary>Command lines and BDAT arguments; a parsed BDAT size and LAST flag print and re-parse identically.</summary>
    private static FuzzTarget CommandTarget() => new(
        "command",
        [Bytes.Ascii("MAIL FROM:<a@example.test> SIZE=100 BODY=8BITMIME\r\n"), Bytes.Ascii("RCPT TO:<b@example.test>\r\n"), Bytes.Ascii("BDAT 4096 LAST\r\n"), Bytes.Ascii("bdat 0\n"), Bytes.Ascii("EHLO x\r\n")],
        input =>
        {
            var command = SmtpCommand.Parse(input);
            Assert.True(command.VerbText.IndexOf('\n', StringComparison.Ordinal) < 0 && command.Arguments.IndexOf('\n', StringComparison.Ordinal) < 0, "an escaped command holds no line end");
            _ = command.Path;
            if (!BdatArguments.TryParse(command.Arguments, out var bdat))
            {
                return $"{command.Verb}:{command.Anomalies}";
            }

            Assert.InRange(bdat.ChunkSize, 0, BdatArguments.MaxChunkSize);
            Assert.True(BdatArguments.TryParse(bdat.ChunkSize + (bdat.Last ? " LAST" : string.Empty), out var again));
            Assert.Equal(bdat, again);
            return $"{command.Verb}:{command.Anomalies}:bdat{(bdat.Last ? "-last" : string.Empty)}";
        })
    {
        Dictionary = SmtpTokens,
    };

    /// <summary>DATA content: the result is the same for any split of the wire bytes, and stuffing any content
    /// then scanning it gives that content back.</summary>
    private static FuzzTarget DataContentTarget() => new(
        "data-content",
        [Bytes.Ascii("Subject: x\r\n\r\n.leading\r\n..two\r\nbare\nLF\rCR\r\n.\r\nQUIT\r\n"), Bytes.Ascii(".\r\n"), Bytes.Ascii("a\n.\nb\r.\r\r\n.\n\r\n.\r\n")],
        input =>
        {
            var whole = Scan(input, [input.Length]);
            var cut = Scan(input, [1, 2, 5, 1, 13]);
            Assert.Equal(whole.Consumed, cut.Consumed);
            Assert.Equal(whole.Complete, cut.Complete);
            Assert.Equal(whole.Anomalies, cut.Anomalies);
            Assert.True(whole.Content.AsSpan().SequenceEqual(cut.Content), "a split changes the content");
            Assert.True(whole.Content.Length <= whole.Consumed);
            if (whole.Complete)
            {
                Assert.True(input.AsSpan(0, whole.Consumed).EndsWith("\r\n.\r\n"u8) || whole.Consumed == 3);
            }

            // Round trip: treat the input as message content, stuff it, terminate it, scan it back.
            byte[] content = input.AsSpan().EndsWith("\r\n"u8) || input.Length == 0 ? input : [.. input, (byte)'\r', (byte)'\n'];
            var wire = DotStuffing.Stuff(content);
            var back = Scan(wire, [7, 1, 3]);
            Assert.True(back.Complete, "stuffed content with its terminator completes");
            Assert.Equal(wire.Length, back.Consumed);
            Assert.True(content.AsSpan().SequenceEqual(back.Content), "stuffing and scanning changes the content");
            return $"{whole.Complete}:{whole.Anomalies}";
        })
    {
        Dictionary = SmtpTokens,
    };

    private static (int Consumed, bool Complete, DotAnomalies Anomalies, byte[] Content) Scan(byte[] wire, int[] cuts)
    {
        var scanner = new DataContentScanner();
        var sink = new CollectingSink();
        var offset = 0;
        var consumed = 0;
        for (var i = 0; offset < wire.Length && !scanner.Complete; i++)
        {
            var size = Math.Min(cuts[i % cuts.Length], wire.Length - offset);
            consumed += scanner.Scan(wire.AsSpan(offset, size), sink);
            offset += size;
        }

        return (consumed, scanner.Complete, scanner.Anomalies, sink.Content);
    }

    /// <summary>TLS records in any split give the same messages; each message goes to its parser.</summary>
    private static FuzzTarget TlsRecordsTarget() => new(
        "tls-records",
        [
            TlsHelloVectors.GreaseRecord,
            TlsHelloVectors.Reframe(TlsHelloVectors.BouncyCastleRecord, 50),
            [.. TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(2, ServerHelloBody(true))), .. TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(11, CertificateBody(SelfSigned.Value)))],
            [.. TlsHelloVectors.Record(21, 2, 40), .. TlsHelloVectors.Record(20, 1), .. TlsHelloVectors.Record(23, 1, 2, 3)],
        ],
        input =>
        {
            var whole = ScanRecords(input, [input.Length]);
            var cut = ScanRecords(input, [3, 1, 64, 7]);
            Assert.Equal(whole.Status, cut.Status);
            Assert.Equal(whole.Messages, cut.Messages);
            var outcome = new StringBuilder(whole.Status.ToString());
            foreach (var message in whole.Scanner.Messages)
            {
                outcome.Append(':').Append(ParseHandshake(message));
            }

            _ = whole.Scanner.Alerts.Select(a => a.ToString()).ToList();
            return outcome.ToString();
        })
    {
        Dictionary = [[0x16, 0x03, 0x03], [0x16, 0x03, 0x01, 0x40, 0x00], [0x01, 0x00, 0xff, 0xff], [0x00, 0x2b], [0xff, 0xff, 0xff]],
        MaxLength = 40_000,
    };

    private static (RecordScanStatus Status, List<string> Messages, TlsRecordScanner Scanner) ScanRecords(byte[] input, int[] cuts)
    {
        var scanner = new TlsRecordScanner();
        var pending = Array.Empty<byte>();
        var offset = 0;
        var status = RecordScanStatus.NeedMore;
        for (var i = 0; offset < input.Length; i++)
        {
            var size = Math.Min(cuts[i % cuts.Length], input.Length - offset);
            pending = [.. pending, .. input.AsSpan(offset, size)];
            offset += size;
            var buffer = new ReadOnlySequence<byte>(pending);
            var result = scanner.Scan(ref buffer);
            pending = buffer.ToArray();
            if (result is RecordScanStatus.NotTls or RecordScanStatus.Oversized)
            {
                status = result;
                Assert.NotNull(scanner.Problem);
                break;
            }
        }

        return (status, [.. scanner.Messages.Select(m => $"{m.Type}/{m.RecordVersion:x4}/{Convert.ToHexString(m.Body)}")], scanner);
    }

    /// <summary>ClientHello, ServerHello and Certificate bodies, mutated directly so the parsers see more than the framing.</summary>
    private static FuzzTarget HandshakeTarget(string name, byte type, byte[][] bodies) => new(
        name,
        bodies,
        input => ParseHandshake(new HandshakeMessage(type, input, 0x0303)))
    {
        Dictionary = [[0x00, 0x00], [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04], [0x00, 0x10, 0x00, 0x03, 0x02, 0x68, 0x32], [0xff, 0xff], [0x00]],
    };

    /// <summary>The parser for the message's type; FormatException is each parser's one documented failure.</summary>
    private static string ParseHandshake(HandshakeMessage message)
    {
        try
        {
            switch (message.Type)
            {
                case 1:
                    var hello = ClientHello.Parse(message);
                    Assert.Matches("^[0-9a-f]{32}$", hello.Ja3Hash);
                    _ = hello.ToData();
                    _ = hello.MaxVersion;
                    return $"ch{hello.Extensions.Count > 0}{hello.ServerName is not null}";
                case 2:
                    var server = ServerHello.Parse(message);
                    _ = server.Version;
                    return $"sh{server.SupportedVersion is not null}";
                case 11:
                    var chain = CertificateMessage.Parse(message);
                    return $"cert{Math.Min(chain.Count, 3)}{chain.Select(Summarize).FirstOrDefault()}";
                default:
                    return $"type{message.Type}";
            }
        }
        catch (FormatException)
        {
            return $"format{message.Type}";
        }
    }

    private static string Summarize(byte[] der)
    {
        try
        {
            var summary = CertificateSummary.FromDer(der);
            _ = summary.Describe();
            _ = summary.ToData();
            _ = summary.Matches("mx.example.test");
            return "parsed";
        }
        catch (CryptographicException)
        {
            return "bad-der";
        }
    }

    /// <summary>Certificate messages and the DER inside them.</summary>
    private static FuzzTarget CertificateTarget() => new(
        "certificate",
        [CertificateBody(SelfSigned.Value), SelfSigned.Value],
        input => ParseHandshake(new HandshakeMessage(11, input, 0x0303)) + ":" + Summarize(input))
    {
        Dictionary = [[0x30, 0x82], [0x06, 0x03, 0x55, 0x1d, 0x11], [0x82], [0x00, 0x00, 0x00]],
        MaxLength = 4096,
    };

    /// <summary>PROXY v1/v2: the result's length contract, and a complete header parses the same without what follows it.</summary>
    private static FuzzTarget ProxyHeaderTarget() => new(
        "proxy-header",
        [
            ProxyHeaderWriter.WriteV1(IPEndPoint.Parse("192.0.2.1:5000"), IPEndPoint.Parse("198.51.100.2:25")),
            ProxyHeaderWriter.WriteV2(IPEndPoint.Parse("[2001:db8::1]:5000"), IPEndPoint.Parse("[2001:db8::2]:25")),
            [.. ProxyHeaderWriter.WriteV2(IPEndPoint.Parse("192.0.2.1:5000"), IPEndPoint.Parse("198.51.100.2:25")), .. "EHLO x\r\n"u8],
            Bytes.Ascii("PROXY UNKNOWN\r\n"),
        ],
        input =>
        {
            var result = ProxyHeaderParser.Parse(input);
            switch (result.Status)
            {
                case ProxyParseStatus.Complete:
                    Assert.NotNull(result.Header);
                    Assert.InRange(result.Length, ProxyHeaderParser.MinLength, input.Length);
                    Assert.Equal(Describe(result), Describe(ProxyHeaderParser.Parse(input.AsSpan(0, result.Length))));
                    for (var have = 0; have < result.Length; have += 1 + (have / 8))
                    {
                        var prefix = ProxyHeaderParser.Parse(input.AsSpan(0, have));
                        Assert.Equal(ProxyParseStatus.NeedMore, prefix.Status);
                        Assert.InRange(prefix.Length, have + 1, result.Length);
                    }

                    break;
                case ProxyParseStatus.NeedMore:
                    Assert.InRange(result.Length, input.Length + 1, ProxyHeaderParser.V2FixedLength + 65535);
                    break;
                default:
                    Assert.False(string.IsNullOrEmpty(result.Error));
                    break;
            }

            return $"{result.Status}:{result.Header?.Version}:{result.Header?.Command}";
        })
    {
        Dictionary = [.. new[] { "PROXY ", "TCP4 ", "TCP6 ", "UNKNOWN", "\r\n", "255.255.255.255 ", "::1 ", "65535" }.Select(Bytes.Ascii), [.. ProxyHeaderParser.V2Signature], [0x21, 0x11], [0x20, 0x00]],
    };

    private static string Describe(ProxyParseResult r) =>
        $"{r.Status} {r.Length} {r.Error} {r.Header?.Version} {r.Header?.Command} {r.Header?.Source} {r.Header?.Destination} {r.Header?.Length} {string.Join(',', r.Header?.TlvTypes ?? [])}";

    private static readonly Lazy<byte[]> SelfSigned = new(() =>
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mx.example.test, O=Fuzz", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("mx.example.test");
        names.AddDnsName("*.example.test");
        request.CertificateExtensions.Add(names.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return cert.RawData;
    });

    private static byte[] CertificateBody(byte[] der)
    {
        byte[] entry = [(byte)(der.Length >> 16), (byte)(der.Length >> 8), (byte)der.Length, .. der];
        return [(byte)(entry.Length >> 16), (byte)(entry.Length >> 8), (byte)entry.Length, .. entry];
    }

    private static byte[] ServerHelloBody(bool tls13)
    {
        byte[] extensions = tls13 ? [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0xff, 0x01, 0x00, 0x01, 0x00] : [0x00, 0x17, 0x00, 0x00];
        return [0x03, 0x03, .. new byte[32], 0x20, .. new byte[32], 0x13, 0x01, 0x00, (byte)(extensions.Length >> 8), (byte)extensions.Length, .. extensions];
    }
}
