using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class TlsRecordScannerTests
{
    public static TheoryData<FeedMode> Modes => [.. DialogueReplayer.AllModes];

    [Fact]
    public void Scan_WholeClientHello_GivesOneMessageAndConsumesTheRecord()
    {
        var record = TlsHelloVectors.BouncyCastleRecord;
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>(record);

        Assert.Equal(RecordScanStatus.Progress, scanner.Scan(ref buffer));

        Assert.True(buffer.IsEmpty);
        var message = Assert.Single(scanner.Messages);
        Assert.Equal(1, message.Type);
        Assert.Equal(record[9..], message.Body);
        Assert.Equal(0x0301, message.RecordVersion);
        Assert.Equal(1, scanner.RecordsSeen);
        Assert.False(scanner.EncryptionStarted);
        Assert.Null(scanner.Problem);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Scan_ClientHelloInAnyReads_ParsesTheSameMessage(FeedMode mode)
    {
        var record = TlsHelloVectors.GreaseRecord;

        var (scanner, rest) = Feed(record, mode, seed: 7);

        Assert.Empty(rest);
        AssertSameHello(record, Assert.Single(scanner.Messages));
    }

    [Fact]
    public void Scan_ClientHelloByteByByte_NeedsMoreUntilTheLastByte()
    {
        // PipeReader style: unconsumed bytes stay, the next byte is appended behind them.
        var record = TlsHelloVectors.BouncyCastleRecord;
        var scanner = new TlsRecordScanner();
        var pending = Array.Empty<byte>();
        for (var i = 0; i < record.Length; i++)
        {
            var buffer = new ReadOnlySequence<byte>([.. pending, record[i]]);
            var status = scanner.Scan(ref buffer);
            pending = buffer.ToArray();

            Assert.Equal(i == record.Length - 1 ? RecordScanStatus.Progress : RecordScanStatus.NeedMore, status);
        }

        Assert.Empty(pending);
        AssertSameHello(record, Assert.Single(scanner.Messages));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(17)]
    [InlineData(100)]
    [InlineData(229)]
    [InlineData(230)]
    public void Scan_ClientHelloSplitAcrossRecords_ParsesTheSameMessage(int fragment)
    {
        // A large ClientHello (post-quantum key shares) spans records; even the 4-byte header may be split.
        var record = TlsHelloVectors.GreaseRecord;
        var wire = TlsHelloVectors.Reframe(record, fragment);

        var (scanner, rest) = Feed(wire, FeedMode.Whole, seed: 1);

        Assert.Empty(rest);
        Assert.Equal((230 + fragment - 1) / fragment, scanner.RecordsSeen);
        AssertSameHello(record, Assert.Single(scanner.Messages));
    }

    [Fact]
    public void Scan_AnyRecordFramingAndAnyReads_ParsesTheSameMessage()
    {
        var record = TlsHelloVectors.BouncyCastleRecord;
        var cases = Gen.Choose(1, record.Length - 5).Zip(Gen.Elements(DialogueReplayer.AllModes)).Zip(Gen.Choose(0, 1000)).ToArbitrary();

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300).WithQuietOnSuccess(true), Prop.ForAll(cases, input =>
        {
            var ((fragment, mode), seed) = input;
            var (scanner, rest) = Feed(TlsHelloVectors.Reframe(record, fragment), mode, seed);
            return rest.Length == 0
                && scanner.Messages.Count == 1
                && scanner.Messages[0].Type == 1
                && scanner.Messages[0].Body.AsSpan().SequenceEqual(record.AsSpan(9));
        }));
    }

    [Fact]
    public async Task Scan_ClientHelloFromSslStream_ParsesAsOneMessage()
    {
        var record = await TlsHelloVectors.SslStreamRecordAsync();

        var (scanner, rest) = Feed(TlsHelloVectors.Reframe(record, 7), FeedMode.Segmented, seed: 3);

        Assert.Empty(rest);
        AssertSameHello(record, Assert.Single(scanner.Messages));
    }

    [Fact]
    public void Scan_ServerFlightInOneRecord_GivesEveryMessageInOrder()
    {
        // A TLS 1.2 server usually packs ServerHello, Certificate and ServerHelloDone into one record.
        byte[] flight = [.. TlsHelloVectors.Handshake(2, [1, 2, 3]), .. TlsHelloVectors.Handshake(11, [4, 5]), .. TlsHelloVectors.Handshake(14, [])];
        var buffer = new ReadOnlySequence<byte>(TlsHelloVectors.Record(22, flight));
        var scanner = new TlsRecordScanner();

        Assert.Equal(RecordScanStatus.Progress, scanner.Scan(ref buffer));

        Assert.Equal([2, 11, 14], scanner.Messages.Select(m => (int)m.Type));
        Assert.Equal([1, 2, 3], scanner.Messages[0].Body);
        Assert.Equal([4, 5], scanner.Messages[1].Body);
        Assert.Empty(scanner.Messages[2].Body);
    }

    [Fact]
    public void Scan_PlainSmtp_IsNotTlsAndConsumesNothing()
    {
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>("EHLO x\r\n"u8.ToArray());

        Assert.Equal(RecordScanStatus.NotTls, scanner.Scan(ref buffer));

        Assert.Equal(8, buffer.Length);
        Assert.Contains("not a TLS record", scanner.Problem, StringComparison.Ordinal);
        Assert.Contains("45484C4F20", scanner.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_SslV2StyleClientHello_IsNotTlsAndSaysSslV2()
    {
        // SSLv2 framing: 2-byte length 46 with the high bit set, msg type 1, version 3.1, then 21 bytes of cipher
        // specs, no session id and a 16-byte challenge: 9 + 21 + 0 + 16 = 46.
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, .. new byte[37]]);

        Assert.Equal(RecordScanStatus.NotTls, scanner.Scan(ref buffer));

        Assert.Equal("an SSLv2-format ClientHello (not supported)", scanner.Problem);
        Assert.Empty(scanner.Messages);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x2e, 0x05, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 })] // msg type 5, not CLIENT-HELLO
    [InlineData(new byte[] { 0x80, 0x2e, 0x01, 0x07, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 })] // version 7.1
    [InlineData(new byte[] { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x14, 0x00, 0x00, 0x00, 0x10 })] // 20 bytes of 3-byte cipher specs
    [InlineData(new byte[] { 0x80, 0x40, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 })] // lengths do not add up to the record
    [InlineData(new byte[] { 0xC3, 0x28, 0xA0, 0xA1, 0xFF, 0x00, 0x9D, 0x41, 0x12, 0xE0, 0x7B })] // random bytes
    [InlineData(new byte[] { 0x80, 0x2e, 0x01, 0x03, 0x01 })] // too short to have the shape
    public void Scan_HighBitGarbage_IsNotTlsAndNotCalledSslV2(byte[] bytes)
    {
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.Equal(RecordScanStatus.NotTls, scanner.Scan(ref buffer));

        Assert.Equal($"not a TLS record (first bytes {Convert.ToHexString(bytes, 0, 5)})", scanner.Problem);
    }

    [Fact]
    public void Scan_RandomBytesAfterStartTls_AreNeverCalledSslV2UnlessTheyHaveTheClientHelloShape()
    {
        var random = new Random(12);
        var bytes = new byte[64];
        for (var i = 0; i < 5000; i++)
        {
            random.NextBytes(bytes);
            bytes[0] |= 0x80;
            var scanner = new TlsRecordScanner();
            var buffer = new ReadOnlySequence<byte>(bytes);

            Assert.Equal(RecordScanStatus.NotTls, scanner.Scan(ref buffer));

            // Message type 1 is the least of the shape; without it the label must be the plain one.
            if (bytes[2] != 1)
            {
                Assert.StartsWith("not a TLS record (first bytes ", scanner.Problem, StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x13, 0x03, 0x03, 0x00, 0x01 })] // content type 19 is not assigned
    [InlineData(new byte[] { 0x19, 0x03, 0x03, 0x00, 0x01 })] // nor 25
    [InlineData(new byte[] { 0x16, 0x02, 0x00, 0x00, 0x01 })] // major version 2
    [InlineData(new byte[] { 0x16, 0x04, 0x03, 0x00, 0x01 })] // major version 4
    public void Scan_BadRecordHeader_IsNotTls(byte[] header)
    {
        var buffer = new ReadOnlySequence<byte>(header);

        Assert.Equal(RecordScanStatus.NotTls, new TlsRecordScanner().Scan(ref buffer));
    }

    [Fact]
    public void Scan_RecordLongerThanTlsAllows_IsOversizedFromTheHeaderAlone()
    {
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0x16, 0x03, 0x03, 0x48, 0x01 }); // 18433

        Assert.Equal(RecordScanStatus.Oversized, scanner.Scan(ref buffer));

        Assert.Contains("18433", scanner.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_RecordOfExactlyTheMaximum_WaitsForItsBody()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0x17, 0x03, 0x03, 0x48, 0x00 }); // 18432

        Assert.Equal(RecordScanStatus.NeedMore, new TlsRecordScanner().Scan(ref buffer));
        Assert.Equal(5, buffer.Length);
    }

    [Fact]
    public void Scan_HandshakeMessageOver256KiB_IsOversizedOnceItsHeaderArrives()
    {
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>(TlsHelloVectors.Record(22, 0x0b, 0x04, 0x00, 0x01)); // 262145 bytes

        Assert.Equal(RecordScanStatus.Oversized, scanner.Scan(ref buffer));

        Assert.Contains("262145", scanner.Problem, StringComparison.Ordinal);
        Assert.Empty(scanner.Messages);
    }

    [Fact]
    public void Scan_HandshakeMessageOfExactly256KiB_IsAcceptedAndAwaited()
    {
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>(TlsHelloVectors.Record(22, 0x0b, 0x04, 0x00, 0x00));

        Assert.Equal(RecordScanStatus.Progress, scanner.Scan(ref buffer));

        Assert.True(buffer.IsEmpty);
        Assert.Empty(scanner.Messages);
        Assert.Null(scanner.Problem);
    }

    [Fact]
    public void Scan_AlertRecord_IsRecordedWithLevelAndName()
    {
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>([.. TlsHelloVectors.Record(21, 2, 40), .. TlsHelloVectors.Record(21, 1, 0)]);

        Assert.Equal(RecordScanStatus.Progress, scanner.Scan(ref buffer));

        Assert.Equal([new TlsAlert(2, 40), new TlsAlert(1, 0)], scanner.Alerts);
        Assert.Equal("fatal handshake_failure(40)", scanner.Alerts[0].ToString());
        Assert.Equal("warning close_notify(0)", scanner.Alerts[1].ToString());
    }

    [Theory]
    [InlineData((byte)20)]
    [InlineData((byte)23)]
    public void Scan_AfterChangeCipherSpecOrApplicationData_StopsParsingHandshakeAndAlerts(byte type)
    {
        // After ChangeCipherSpec the Finished message and any alert are ciphertext: parsing them would be noise.
        var scanner = new TlsRecordScanner();
        byte[] wire =
        [
            .. TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(2, [9])),
            .. TlsHelloVectors.Record(type, 1),
            .. TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(20, [1, 2, 3])),
            .. TlsHelloVectors.Record(21, 2, 40),
        ];
        var buffer = new ReadOnlySequence<byte>(wire);

        Assert.Equal(RecordScanStatus.Progress, scanner.Scan(ref buffer));

        Assert.True(scanner.EncryptionStarted);
        Assert.Equal(2, Assert.Single(scanner.Messages).Type);
        Assert.Empty(scanner.Alerts);
        Assert.Equal(4, scanner.RecordsSeen);
        Assert.True(buffer.IsEmpty);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(234)]
    public void Scan_TruncatedRecord_NeedsMoreAndConsumesNothing(int length)
    {
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>(TlsHelloVectors.GreaseRecord.AsMemory(0, length));

        Assert.Equal(RecordScanStatus.NeedMore, scanner.Scan(ref buffer));

        Assert.Equal(length, buffer.Length);
        Assert.Equal(0, scanner.RecordsSeen);
        Assert.Empty(scanner.Messages);
    }

    [Fact]
    public void Scan_WholeRecordThenPartOfTheNext_ConsumesOnlyTheWholeOne()
    {
        var scanner = new TlsRecordScanner();
        var second = TlsHelloVectors.Record(21, 2, 40);
        var buffer = new ReadOnlySequence<byte>([.. TlsHelloVectors.GreaseRecord, .. second.AsSpan(0, 6)]);

        Assert.Equal(RecordScanStatus.Progress, scanner.Scan(ref buffer));

        Assert.Equal(second.AsSpan(0, 6).ToArray(), buffer.ToArray());
        Assert.Single(scanner.Messages);
        Assert.Empty(scanner.Alerts);
    }

    [Fact]
    public void Scan_SeededGarbageAndMutatedRecords_NeverThrowsAndOnlyConsumesWholeRecords()
    {
        // The scanner sits on the raw client connection: no byte sequence may make it throw or lose bytes.
        var random = new Random(8446);
        var seeds = new[] { TlsHelloVectors.BouncyCastleRecord, TlsHelloVectors.GreaseRecord, TlsHelloVectors.Record(21, 2, 40), TlsHelloVectors.Record(20, 1) };
        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var wire = seeds.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).SelectMany(s => s).ToArray();
            for (var flips = random.Next(0, 4); flips > 0; flips--)
            {
                wire[random.Next(wire.Length)] = (byte)random.Next(256);
            }

            var scanner = new TlsRecordScanner();
            var pending = Array.Empty<byte>();
            long consumed = 0;
            var failed = false;
            try
            {
                foreach (var read in BufferSegment.Cut(wire, random.Next(1, 50), random.Next(1, 300)))
                {
                    byte[] presented = [.. pending, .. read.Span];
                    var buffer = BufferSegment.Sequence(presented, random.Next(1, 20));
                    var status = scanner.Scan(ref buffer);
                    pending = buffer.ToArray();
                    consumed += presented.Length - pending.Length;
                    Assert.True(presented.AsSpan().EndsWith(pending), "what is left must be the unconsumed tail");
                    if (status is RecordScanStatus.NotTls or RecordScanStatus.Oversized)
                    {
                        Assert.NotNull(scanner.Problem);
                        failed = true;
                        break;
                    }
                }

                // Every record passed over cost at least its 5-byte header (a rejected one is counted, not consumed).
                Assert.True(failed || consumed >= 5 * scanner.RecordsSeen);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"iteration {iteration}, wire {Bytes.Literal(wire)}", e);
            }
        }
    }

    /// <summary>Feeds the scanner like a PipeReader: unconsumed bytes stay in front of each new read.</summary>
    private static (TlsRecordScanner Scanner, byte[] Unconsumed) Feed(byte[] wire, FeedMode mode, int seed)
    {
        var scanner = new TlsRecordScanner();
        var segmented = mode is FeedMode.Segmented or FeedMode.Chunked;
        var pending = new List<ReadOnlyMemory<byte>>();
        foreach (var read in DialogueReplayer.Reads(wire, mode, new Random(seed)))
        {
            pending.AddRange(read);
            var buffer = BufferSegment.Sequence(pending);
            var status = scanner.Scan(ref buffer);
            Assert.True(status is RecordScanStatus.Progress or RecordScanStatus.NeedMore, $"{status}: {scanner.Problem}");
            pending = segmented ? [.. SegmentsOf(buffer)] : [buffer.ToArray()];
        }

        return (scanner, [.. pending.SelectMany(m => m.ToArray())]);
    }

    private static IEnumerable<ReadOnlyMemory<byte>> SegmentsOf(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            yield return segment;
        }
    }

    private static void AssertSameHello(byte[] record, HandshakeMessage message)
    {
        var expected = ClientHello.Parse(TlsHelloVectors.Message(record));
        var actual = ClientHello.Parse(message);
        Assert.Equal(record[9..], message.Body);
        Assert.Equal(expected.ServerName, actual.ServerName);
        Assert.Equal(expected.Ja3String, actual.Ja3String);
        Assert.Equal(expected.Random, actual.Random);
        Assert.Equal(expected.RecordVersion, actual.RecordVersion);
    }
}
