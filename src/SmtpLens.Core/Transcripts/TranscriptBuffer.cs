using System.Buffers;

namespace SmtpLens.Transcripts;

/// <summary>A growable byte buffer rented from the shared pool while a batch of events is rendered, and handed
/// back once the batch is in the file.</summary>
/// <remarks>Each transcript file kept its own 16-48 KiB buffers for the whole session, about 200 KB for an idle
/// session's three files; rented per batch, an idle session holds none.</remarks>
internal sealed class TranscriptBuffer : IBufferWriter<byte>
{
    private const int MinimumSize = 4 * 1024;
    private byte[]? _array;
    private int _written;

    public int WrittenCount => _written;

    public ReadOnlySpan<byte> WrittenSpan => _array is null ? [] : _array.AsSpan(0, _written);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_array is null || _written + count > _array.Length)
        {
            throw new InvalidOperationException("advanced past the end of the buffer");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _array.AsSpan(_written);
    }

    /// <summary>Forgets the written bytes and keeps the array for the rest of the batch.</summary>
    public void ResetWrittenCount() => _written = 0;

    /// <summary>Returns the array to the pool; the next write rents again.</summary>
    public void Release()
    {
        if (_array is { } array)
        {
            _array = null;
            ArrayPool<byte>.Shared.Return(array);
        }

        _written = 0;
    }

    private void Reserve(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_array is null)
        {
            _array = ArrayPool<byte>.Shared.Rent(Math.Max(needed, MinimumSize));
            return;
        }

        if (_array.Length - _written >= needed)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_array.Length * 2, _written + needed));
        _array.AsSpan(0, _written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = larger;
    }
}
