using System.Text;

namespace SmtpLens.Transcripts;

/// <summary>UTF-8 (no BOM) text into a transcript file, buffered in a pooled buffer that is given back on every
/// flush (once per batch of events), so an idle session holds no buffer.</summary>
/// <remarks>A StreamWriter allocates its char and byte buffers (80 KB at 16 K chars) for the life of the file.</remarks>
internal sealed class TranscriptTextWriter(Stream file) : TextWriter
{
    // Large writes under load: one write(2) per batch, or per 32 KiB of a long batch.
    private const int WriteThreshold = 32 * 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly TranscriptBuffer _buffer = new();
    // Stateful, so a surrogate pair written in two calls is still encoded as one character.
    private readonly Encoder _encoder = Utf8.GetEncoder();

    public override Encoding Encoding => Utf8;

    public override void Write(char value) => Write(new ReadOnlySpan<char>(in value));

    public override void Write(string? value) => Write(value.AsSpan());

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(long value)
    {
        Span<char> digits = stackalloc char[20];
        value.TryFormat(digits, out var length, default, System.Globalization.CultureInfo.InvariantCulture);
        Write(digits[..length]);
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        var span = _buffer.GetSpan(Utf8.GetMaxByteCount(buffer.Length));
        _buffer.Advance(_encoder.GetBytes(buffer, span, flush: false));
        if (_buffer.WrittenCount >= WriteThreshold)
        {
            file.Write(_buffer.WrittenSpan);
            _buffer.ResetWrittenCount();
        }
    }

    public override void Flush()
    {
        if (_buffer.WrittenCount > 0)
        {
            file.Write(_buffer.WrittenSpan);
        }

        _buffer.Release();
        file.Flush();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                Flush();
            }
            finally
            {
                file.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}
