using System.Buffers;
using SmtpLens.IO;

namespace SmtpLens.Tls;

/// <summary>Watches one direction of a TLS connection and keeps the cleartext handshake messages.</summary>
/// <remarks>Used the same way in passthrough and on intercepted legs, so every mode records the handshake
/// from the wire. It stops looking once records are encrypted, so it costs nothing on bulk data.</remarks>
internal sealed class HandshakeTap
{
    // Dropped once the tap is done: a session holds its taps for its whole life, not their buffers.
    private ArrayBufferWriter<byte>? _pending = new();
    private bool _failed;

    public TlsRecordScanner Scanner { get; } = new();

    public bool Done => _failed || Scanner.EncryptionStarted;

    public string? Problem => Scanner.Problem;

    public void Observe(ReadOnlySpan<byte> bytes)
    {
        if (Done || bytes.IsEmpty || _pending is null)
        {
            return;
        }

        _pending.Write(bytes);
        var buffer = new ReadOnlySequence<byte>(_pending.WrittenMemory);
        var status = Scanner.Scan(ref buffer);
        if (status is RecordScanStatus.NotTls or RecordScanStatus.Oversized)
        {
            _failed = true;
            _pending = null;
            return;
        }

        if (Done)
        {
            _pending = null;
            return;
        }

        var rest = buffer.ToArray();
        _pending.Clear();
        _pending.Write(rest);
    }

    public T? Find<T>(byte type, Func<HandshakeMessage, T> parse)
        where T : class
    {
        var message = Scanner.Messages.FirstOrDefault(m => m.Type == type);
        if (message is null)
        {
            return null;
        }

        try
        {
            return parse(message);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>A transport that shows every byte to a tap per direction on its way through.</summary>
internal sealed class TappedStream(Stream input, Stream output, HandshakeTap inbound, HandshakeTap outbound) : AsyncOnlyStream
{
    public HandshakeTap Inbound => inbound;

    public HandshakeTap Outbound => outbound;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await input.ReadAsync(buffer, cancellationToken);
        inbound.Observe(buffer.Span[..n]);
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        outbound.Observe(buffer.Span);
        await output.WriteAsync(buffer, cancellationToken);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

}
