using System.Buffers;
using System.Text;
using SmtpLens.Protocol;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Protocol;

public sealed class LineFramerTests
{
    [Fact]
    public void TryTake_CompleteLine_TakesItWithItsTerminatorAndAdvances()
    {
        var buffer = new ReadOnlySequence<byte>(Bytes.Ascii("EHLO a\r\nMAIL"));

        var status = LineFramer.TryTake(ref buffer, 100, out var line);

        Assert.Equal(LineStatus.Complete, status);
        Assert.Equal("EHLO a\r\n", Encoding.ASCII.GetString(line.ToArray()));
        Assert.Equal("MAIL", Encoding.ASCII.GetString(buffer.ToArray()));
    }

    [Fact]
    public void TryTake_NoLineEnd_IsIncompleteAndLeavesTheBuffer()
    {
        var original = new ReadOnlySequence<byte>(Bytes.Ascii("EHLO a\r"));
        var buffer = original;

        var status = LineFramer.TryTake(ref buffer, 100, out _);

        Assert.Equal(LineStatus.Incomplete, status);
        Assert.Equal(original.Length, buffer.Length);
        Assert.Equal(original.Start, buffer.Start);
    }

    [Theory]
    [InlineData("12345678\n", 9, LineStatus.Complete)]
    [InlineData("123456789\n", 9, LineStatus.TooLong)]
    [InlineData("123456789", 9, LineStatus.TooLong)]
    [InlineData("12345678", 9, LineStatus.Incomplete)]
    [InlineData("\n", 1, LineStatus.Complete)]
    [InlineData("x", 1, LineStatus.TooLong)]
    public void TryTake_AtTheLengthLimit_CountsTheTerminator(string input, int max, object expectedStatus)
    {
        var expected = (LineStatus)expectedStatus;
        var buffer = new ReadOnlySequence<byte>(Bytes.Ascii(input));

        var status = LineFramer.TryTake(ref buffer, max, out _);

        Assert.Equal(expected, status);
        Assert.Equal(expected == LineStatus.Complete ? input.Length - (input.IndexOf('\n', StringComparison.Ordinal) + 1) : input.Length, buffer.Length);
    }

    [Fact]
    public void TryTake_TooLong_ConsumesNothing()
    {
        var original = new ReadOnlySequence<byte>(Bytes.Ascii(new string('A', 50) + "\r\n"));
        var buffer = original;

        var status = LineFramer.TryTake(ref buffer, 20, out var line);

        Assert.Equal(LineStatus.TooLong, status);
        Assert.Equal(original.Start, buffer.Start);
        Assert.True(line.IsEmpty);
    }

    [Fact]
    public void TryTake_TooLong_NeverLooksPastTheLimit()
    {
        // A line end beyond the limit must not make an over-long line acceptable.
        var buffer = new ReadOnlySequence<byte>(Bytes.Ascii(new string('A', 30) + "\n"));

        Assert.Equal(LineStatus.TooLong, LineFramer.TryTake(ref buffer, 30, out _));
    }

    [Fact]
    public void TryTake_EverySegmentation_GivesTheSameLines()
    {
        var input = Bytes.Ascii("EHLO a\r\nMAIL FROM:<x@y>\nRCPT TO:<z@w>\r\n\r\nDATA\r\ntail");
        var expected = TakeAll(new ReadOnlySequence<byte>(input), 64);

        for (var a = 1; a <= 7; a++)
        {
            for (var b = 1; b <= 5; b++)
            {
                var segmented = BufferSegment.Sequence(input, a, b);

                Assert.Equal(expected, TakeAll(segmented, 64));
            }
        }

        Assert.Equal(["EHLO a\r\n", "MAIL FROM:<x@y>\n", "RCPT TO:<z@w>\r\n", "\r\n", "DATA\r\n", "rest:tail"], expected);
    }

    [Theory]
    [InlineData("QUIT\r\n", "QUIT")]
    [InlineData("QUIT\n", "QUIT")]
    [InlineData("QUIT\r", "QUIT\r")]
    [InlineData("QUIT\r\r\n", "QUIT\r")]
    [InlineData("\r\n", "")]
    [InlineData("\n", "")]
    [InlineData("", "")]
    public void TrimTerminator_RemovesOnlyOneCrLfOrLf(string line, string expected)
    {
        Assert.Equal(expected, Encoding.ASCII.GetString(LineFramer.TrimTerminator(Bytes.Ascii(line))));
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b>\r\n", LineAnomalies.None)]
    [InlineData("MAIL FROM:<a@b>\n", LineAnomalies.BareLf)]
    [InlineData("MAIL\rFROM\r\n", LineAnomalies.BareCr)]
    [InlineData("MAIL\0\r\n", LineAnomalies.Nul)]
    [InlineData("MAIL \u00e9\r\n", LineAnomalies.EightBit)]
    [InlineData("\r\0\n", LineAnomalies.BareLf | LineAnomalies.BareCr | LineAnomalies.Nul)]
    [InlineData("\n", LineAnomalies.BareLf)]
    [InlineData("\r\n", LineAnomalies.None)]
    public void Inspect_ClassifiesEachAnomaly(string line, object expected)
    {
        Assert.Equal((LineAnomalies)expected, LineFramer.Inspect(Encoding.Latin1.GetBytes(line)));
    }

    [Fact]
    public void Describe_NamesEveryFlag()
    {
        Assert.Equal("bare LF line ending, bare CR, NUL byte, 8-bit bytes", (LineAnomalies.BareLf | LineAnomalies.BareCr | LineAnomalies.Nul | LineAnomalies.EightBit).Describe());
        Assert.Equal(string.Empty, LineAnomalies.None.Describe());
    }

    private static List<string> TakeAll(ReadOnlySequence<byte> buffer, int max)
    {
        var lines = new List<string>();
        while (LineFramer.TryTake(ref buffer, max, out var line) == LineStatus.Complete)
        {
            lines.Add(Encoding.ASCII.GetString(line.ToArray()));
        }

        lines.Add("rest:" + Encoding.ASCII.GetString(buffer.ToArray()));
        return lines;
    }
}
