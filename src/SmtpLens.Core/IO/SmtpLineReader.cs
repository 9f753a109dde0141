using System.Buffers;
using System.IO.Pipelines;
using SmtpLens.Protocol;

namespace SmtpLens.IO;

/// <summary>The peer closed with part of a line unread: a reported event, never a silent end.</summary>
internal sealed class ClosedMidLineException(long pendingBytes)
    : IOException($"connection closed mid-line with {pendingBytes} bytes and no line end")
{
    public long PendingBytes { get; } = pendingBytes;
}

/// <summary>A line exceeded the configured maximum.</summary>
internal sealed class LineTooLongException(int limit)
    : IOException($"line longer than {limit} bytes")
{
    public int Limit { get; } = limit;
}

/// <summary>Bounded line and reply reads for the lab peers and the probe, over a <see cref="PipeReader"/>.</summary>
internal static class SmtpLineReader
{
    /// <summary>One line with its terminator, or null on a clean close between lines.</summary>
    public static async ValueTask<byte[]?> ReadLineAsync(PipeReader reader, int maxLength, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            var status = LineFramer.TryTake(ref buffer, maxLength, out var line);
            if (status == LineStatus.Complete)
            {
                var bytes = line.ToArray();
                reader.AdvanceTo(buffer.Start);
                return bytes;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (status == LineStatus.TooLong)
            {
                throw new LineTooLongException(maxLength);
            }

            if (read.IsCompleted)
            {
                if (buffer.IsEmpty)
                {
                    return null;
                }

                throw new ClosedMidLineException(buffer.Length);
            }
        }
    }

    /// <summary>A whole reply, or null if the peer closed before sending one.</summary>
    public static async ValueTask<SmtpReply?> ReadReplyAsync(PipeReader reader, int maxLength, CancellationToken cancellationToken)
    {
        var assembler = new ReplyAssembler();
        while (true)
        {
            var line = await ReadLineAsync(reader, maxLength, cancellationToken);
            if (line is null)
            {
                return assembler.InProgress ? throw new ClosedMidLineException(0) : null;
            }

            var body = LineFramer.TrimTerminator(line);
            if (!ReplyLine.TryParse(body, out var parsed))
            {
                throw new InvalidDataException($"not an SMTP reply: {AsciiText.Escape(body)}");
            }

            if (assembler.Add(parsed, AsciiText.Escape(body)) is { } reply)
            {
                return reply;
            }
        }
    }
}
