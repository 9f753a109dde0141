using System.Buffers;

namespace SmtpLens.Protocol;

internal enum LineStatus
{
    Complete,
    Incomplete,
    TooLong,
}

/// <summary>Takes LF-terminated lines off the front of a buffer with a hard length cap.</summary>
/// <remarks>Unlike an unbounded reader, it never examines more than <c>maxLength</c> bytes, so a peer that
/// never sends a line end costs at most that much memory.</remarks>
internal static class LineFramer
{
    /// <param name="buffer">Advanced past the line when one is complete.</param>
    /// <param name="maxLength">Longest line accepted, terminator included.</param>
    /// <param name="line">The line with its terminator, exactly as received.</param>
    public static LineStatus TryTake(ref ReadOnlySequence<byte> buffer, int maxLength, out ReadOnlySequence<byte> line)
    {
        var window = buffer.Length > maxLength ? buffer.Slice(0, maxLength) : buffer;
        var end = window.PositionOf((byte)'\n');
        if (end is null)
        {
            line = default;
            return buffer.Length >= maxLength ? LineStatus.TooLong : LineStatus.Incomplete;
        }

        var next = window.GetPosition(1, end.Value);
        line = buffer.Slice(0, next);
        buffer = buffer.Slice(next);
        return LineStatus.Complete;
    }

    /// <summary>The line without its CRLF or bare LF terminator.</summary>
    public static ReadOnlySpan<byte> TrimTerminator(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == (byte)'\n')
        {
            line = line[..^1];
            if (line.Length > 0 && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }
        }

        return line;
    }

    /// <summary>Classifies what is unusual about one line (terminator included).</summary>
    public static LineAnomalies Inspect(ReadOnlySpan<byte> line)
    {
        var anomalies = LineAnomalies.None;
        if (line.Length > 0 && line[^1] == (byte)'\n' && (line.Length < 2 || line[^2] != (byte)'\r'))
        {
            anomalies |= LineAnomalies.BareLf;
        }

        var body = TrimTerminator(line);
        if (body.Contains((byte)'\r'))
        {
            anomalies |= LineAnomalies.BareCr;
        }

        if (body.Contains((byte)0))
        {
            anomalies |= LineAnomalies.Nul;
        }

        if (body.IndexOfAnyInRange((byte)0x80, (byte)0xFF) >= 0)
        {
            anomalies |= LineAnomalies.EightBit;
        }

        return anomalies;
    }
}
