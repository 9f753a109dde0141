using System.Text;
using SmtpLens.Protocol;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Protocol;

public sealed class DataContentScannerTests
{
    private const string Wire = "Subject: s\r\n\r\n..leading dot\r\nbody\r\n.\r\nQUIT\r\n";
    private const string Unstuffed = "Subject: s\r\n\r\n.leading dot\r\nbody\r\n";
    private static readonly int MessageLength = Wire.IndexOf("QUIT", StringComparison.Ordinal);

    [Fact]
    public void Scan_DotStuffedLines_LoseExactlyOneLeadingDot()
    {
        var wire = Bytes.Ascii(".one\r\n..two\r\n...three\r\nmid.dle\r\n..\r\n.\r\n");

        var (consumed, content, scanner) = ScanInPieces(wire);

        Assert.True(scanner.Complete);
        Assert.Equal("one\r\n.two\r\n..three\r\nmid.dle\r\n.\r\n", Encoding.ASCII.GetString(content));
        Assert.Equal(wire.Length, consumed);
        Assert.Equal(DotAnomalies.None, scanner.Anomalies);
    }

    [Fact]
    public void Scan_TerminatorSplitAtEveryPosition_EndsAtTheSameByte()
    {
        var wire = Bytes.Ascii(Wire);
        for (var cut = 0; cut <= wire.Length; cut++)
        {
            var (consumed, content, scanner) = ScanInPieces(wire, cut);

            Assert.True(scanner.Complete, $"cut at {cut}");
            Assert.Equal(MessageLength, consumed);
            Assert.Equal(MessageLength, scanner.WireBytes);
            Assert.Equal(Unstuffed, Encoding.ASCII.GetString(content));
        }
    }

    [Fact]
    public void Scan_TerminatorSplitAtEveryPairOfPositions_EndsAtTheSameByte()
    {
        var wire = Bytes.Ascii(Wire);
        for (var first = 0; first <= wire.Length; first++)
        {
            for (var second = first; second <= wire.Length; second++)
            {
                var (consumed, content, _) = ScanInPieces(wire, first, second);

                Assert.Equal(MessageLength, consumed);
                Assert.Equal(Unstuffed, Encoding.ASCII.GetString(content));
            }
        }
    }

    [Fact]
    public void Scan_ByteByByte_CompletesOnTheFinalLfAndNotBefore()
    {
        var wire = Bytes.Ascii(Wire);
        var scanner = new DataContentScanner();
        var sink = new CollectingSink();
        var offset = 0;
        while (!scanner.Complete)
        {
            Assert.Equal(1, scanner.Scan(wire.AsSpan(offset, 1), sink));
            offset++;
        }

        Assert.Equal(MessageLength, offset);
        Assert.Equal(Unstuffed, Encoding.ASCII.GetString(sink.Content));
    }

    [Fact]
    public void Scan_TerminatorExactlyAtChunkEnd_ConsumesTheWholeChunk()
    {
        var scanner = new DataContentScanner();
        var sink = new CollectingSink();

        var first = scanner.Scan("Subject: x\r\n\r\nbody\r\n"u8, sink);
        var second = scanner.Scan(".\r\n"u8, sink);

        Assert.Equal(20, first);
        Assert.Equal(3, second);
        Assert.True(scanner.Complete);
        Assert.Equal(23, scanner.WireBytes);
        Assert.Equal("Subject: x\r\n\r\nbody\r\n", Encoding.ASCII.GetString(sink.Content));
    }

    [Fact]
    public void Scan_AfterComplete_ConsumesNothing()
    {
        var scanner = new DataContentScanner();
        var sink = new CollectingSink();
        scanner.Scan(".\r\n"u8, sink);

        Assert.Equal(0, scanner.Scan("QUIT\r\n"u8, sink));
        Assert.Empty(sink.Content);
        Assert.Equal(3, scanner.WireBytes);
    }

    [Fact]
    public void Scan_EmptyMessage_IsJustTheDotLine()
    {
        var (consumed, content, scanner) = ScanInPieces(Bytes.Ascii(".\r\nRSET\r\n"));

        Assert.True(scanner.Complete);
        Assert.Equal(3, consumed);
        Assert.Empty(content);
    }

    [Fact]
    public void Scan_IncompleteTerminator_IsNotComplete()
    {
        var (consumed, content, scanner) = ScanInPieces(Bytes.Ascii("body\r\n.\r"));

        Assert.False(scanner.Complete);
        Assert.Equal(8, consumed);
        // The dot is transparency and the CR is held back until we know whether LF follows.
        Assert.Equal("body\r\n", Encoding.ASCII.GetString(content));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Scan_HeldCrFollowedByNonLf_ReleasesTheCrAndGoesOn(int cut)
    {
        // "\r\n.\r" looks like the start of the terminator; "X" proves it was not.
        var wire = Bytes.Ascii("a\r\n.\rX\r\n.\r\n");

        var (consumed, content, scanner) = ScanInPieces(wire, cut + 2);

        Assert.True(scanner.Complete);
        Assert.Equal(wire.Length, consumed);
        Assert.Equal("a\r\n\rX\r\n", Encoding.ASCII.GetString(content));
        Assert.Equal(DotAnomalies.HalfTerminator | DotAnomalies.BareCr, scanner.Anomalies);
    }

    [Theory]
    [InlineData("a\r\n.\rX", "a\r\n\rX")]
    [InlineData("a\r\n.\r\r\n", "a\r\n\r\r\n")]
    [InlineData("a\r\n.\r.", "a\r\n\r.")]
    public void Scan_HeldCrAtChunkEnd_IsReleasedByTheNextChunk(string wire, string expected)
    {
        var scanner = new DataContentScanner();
        var sink = new CollectingSink();
        var bytes = Bytes.Ascii(wire);

        scanner.Scan(bytes.AsSpan(0, 5), sink);
        Assert.Equal("a\r\n", Encoding.ASCII.GetString(sink.Content));
        scanner.Scan(bytes.AsSpan(5), sink);

        Assert.False(scanner.Complete);
        Assert.Equal(expected, Encoding.ASCII.GetString(sink.Content));
    }

    public static TheoryData<string, string, int> SmugglingPatterns() => new()
    {
        // <LF>.<LF>
        { "a\n.\nMAIL FROM:<x@y>\r\n.\r\n", "a\n.\nMAIL FROM:<x@y>\r\n", (int)(DotAnomalies.BareLfDot | DotAnomalies.BareLf) },

        // <LF>.<CR><LF>
        { "a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", "a\n.\r\nMAIL FROM:<x@y>\r\n", (int)(DotAnomalies.BareLfDot | DotAnomalies.BareLf) },

        // <CR>.<CR>
        { "a\r.\rMAIL FROM:<x@y>\r\n.\r\n", "a\r.\rMAIL FROM:<x@y>\r\n", (int)(DotAnomalies.BareCrDot | DotAnomalies.BareCr) },

        // <CR><LF>.<LF>
        { "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", "a\r\n\nMAIL FROM:<x@y>\r\n", (int)(DotAnomalies.HalfTerminator | DotAnomalies.BareLf) },

        // <CR><LF>.<CR> then not LF
        { "a\r\n.\rMAIL FROM:<x@y>\r\n.\r\n", "a\r\n\rMAIL FROM:<x@y>\r\n", (int)(DotAnomalies.HalfTerminator | DotAnomalies.BareCr) },

        // <CR>.<LF>
        { "a\r.\nb\r\n.\r\n", "a\r.\nb\r\n", (int)(DotAnomalies.BareCrDot | DotAnomalies.BareCr | DotAnomalies.BareLf) },

        // Plain bare line endings with no dot line.
        { "a\nb\r\n.\r\n", "a\nb\r\n", (int)DotAnomalies.BareLf },
        { "a\rb\r\n.\r\n", "a\rb\r\n", (int)DotAnomalies.BareCr },
    };

    [Theory]
    [MemberData(nameof(SmugglingPatterns))]
    public void Scan_SmugglingPattern_IsFlaggedAndDoesNotEndTheMessage(string wire, string content, int anomalies)
    {
        var bytes = Bytes.Ascii(wire + "RSET\r\n");
        for (var cut = 0; cut <= bytes.Length; cut++)
        {
            var (consumed, emitted, scanner) = ScanInPieces(bytes, cut);

            Assert.True(scanner.Complete);
            Assert.Equal(wire.Length, consumed);
            Assert.Equal(content, Encoding.ASCII.GetString(emitted));
            Assert.Equal((DotAnomalies)anomalies, scanner.Anomalies);
        }
    }

    [Fact]
    public void Scan_CleanMessage_HasNoAnomalies()
    {
        var (_, _, scanner) = ScanInPieces(Bytes.Ascii("Subject: clean\r\n\r\nline. with. dots.\r\n..\r\n.\r\n"));

        Assert.Equal(DotAnomalies.None, scanner.Anomalies);
    }

    /// <summary>Scans <paramref name="wire"/> cut at the given offsets, as a relay's reads would cut it.</summary>
    private static (int Consumed, byte[] Content, DataContentScanner Scanner) ScanInPieces(byte[] wire, params int[] cuts)
    {
        var scanner = new DataContentScanner();
        var sink = new CollectingSink();
        var consumed = 0;
        var start = 0;
        foreach (var end in cuts.Append(wire.Length))
        {
            var piece = wire.AsSpan(start, end - start);
            var taken = scanner.Scan(piece, sink);
            Assert.InRange(taken, 0, piece.Length);
            if (scanner.Complete || taken < piece.Length)
            {
                consumed += taken;
                Assert.True(scanner.Complete, "only completion may leave bytes unconsumed");
                break;
            }

            consumed += taken;
            start = end;
        }

        return (consumed, sink.Content, scanner);
    }
}
