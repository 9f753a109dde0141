using System.Buffers;

namespace SmtpLens.Tests.Support;

/// <summary>A segment of a hand-built multi-segment <see cref="ReadOnlySequence{T}"/>, as a Pipe makes them.</summary>
internal sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    private BufferSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>A sequence with one segment per non-empty chunk, so every chunk boundary is a segment boundary.</summary>
    public static ReadOnlySequence<byte> Sequence(IEnumerable<ReadOnlyMemory<byte>> chunks)
    {
        BufferSegment? first = null;
        BufferSegment? last = null;
        foreach (var chunk in chunks)
        {
            if (chunk.IsEmpty)
            {
                continue;
            }

            var segment = new BufferSegment(chunk, last is null ? 0 : last.RunningIndex + last.Memory.Length);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Next = segment;
            }

            last = segment;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    /// <summary>Cuts <paramref name="bytes"/> into segments of the given sizes, cycling through them.</summary>
    public static ReadOnlySequence<byte> Sequence(byte[] bytes, params int[] sizes) => Sequence(Cut(bytes, sizes));

    public static IEnumerable<ReadOnlyMemory<byte>> Cut(byte[] bytes, params int[] sizes)
    {
        var offset = 0;
        var n = 0;
        while (offset < bytes.Length)
        {
            var size = Math.Min(sizes[n++ % sizes.Length], bytes.Length - offset);
            yield return bytes.AsMemory(offset, size);
            offset += size;
        }
    }
}
