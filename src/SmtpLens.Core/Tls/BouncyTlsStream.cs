using System.Buffers;
using System.Runtime.InteropServices;
using Org.BouncyCastle.Tls;
using SmtpLens.IO;

namespace SmtpLens.Tls;

/// <summary>An async <see cref="Stream"/> over BouncyCastle's non-blocking TLS protocol engine.</summary>
/// <remarks>
/// BouncyCastle's blocking API would park a thread per direction per session; its non-blocking mode takes
/// bytes in (OfferInput) and hands records out (ReadOutput), which maps onto async I/O. The engine is not
/// thread-safe, so every call into it holds one lock, and records are drained and written under one gate so
/// they reach the wire in the order they were produced.
/// </remarks>
internal sealed class BouncyTlsStream : AsyncOnlyStream
{
    private const int NetworkBufferSize = (1 << 14) + 2048 + 5;
    private readonly TlsProtocol _protocol;
    private readonly Stream _transport;
    private readonly Lock _engine = new();
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private bool _inputClosed;
    private bool _closed;

    private readonly TlsPeerEvents? _events;

    public BouncyTlsStream(TlsProtocol protocol, Stream transport, TlsPeerEvents? events = null)
    {
        _protocol = protocol;
        _transport = transport;
        _events = events;
    }

    public TlsProtocol Protocol => _protocol;

    /// <summary>Feeds the peer's handshake bytes to the engine until <paramref name="complete"/> says it is done.</summary>
    /// <param name="beforeInput">Runs after each read and before the engine sees the bytes, so a caller can hold
    /// the handshake without blocking a thread inside one of BouncyCastle's synchronous callbacks.</param>
    /// <param name="afterRecord">When set, the engine is given one TLS record at a time and this runs after each
    /// whole record: TLS 1.3 encrypts the handshake, so a hold can only be keyed on what the engine has processed.</param>
    public async Task HandshakeAsync(Func<bool> complete, CancellationToken cancellationToken, Func<CancellationToken, Task>? beforeInput = null, Func<CancellationToken, Task>? afterRecord = null)
    {
        await FlushOutputAsync(cancellationToken);
        var boundary = new RecordBoundary();
        var network = ArrayPool<byte>.Shared.Rent(NetworkBufferSize);
        try
        {
            await HandshakeAsync(network, boundary, complete, beforeInput, afterRecord, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(network);
        }
    }

    private async Task HandshakeAsync(byte[] network, RecordBoundary boundary, Func<bool> complete, Func<CancellationToken, Task>? beforeInput, Func<CancellationToken, Task>? afterRecord, CancellationToken cancellationToken)
    {
        while (!complete())
        {
            var n = await _transport.ReadAsync(network, cancellationToken);
            if (n == 0)
            {
                throw new EndOfStreamException("the peer closed the connection during the TLS handshake");
            }

            if (beforeInput is not null)
            {
                await beforeInput(cancellationToken);
            }

            // Handshake crypto takes milliseconds: not on a socket event thread.
            await ThreadPoolHop.OffEventThread;

            var offset = 0;
            while (offset < n)
            {
                var count = afterRecord is null ? n : boundary.Take(network.AsSpan(offset, n - offset));
                try
                {
                    lock (_engine)
                    {
                        OfferHandshakeInput(network, offset, count);
                    }
                }
                catch (Exception)
                {
                    // A fatal alert we raised is queued as output: the peer should learn why.
                    await TryFlushAsync();
                    throw;
                }

                offset += count;
                if (afterRecord is not null && boundary.AtRecordStart && !complete())
                {
                    await FlushOutputAsync(cancellationToken);
                    await afterRecord(cancellationToken);
                }
            }

            await FlushOutputAsync(cancellationToken);
        }
    }

    /// <summary>Where TLS records end in a byte stream: the 5-byte headers are in the clear in every version.</summary>
    private sealed class RecordBoundary
    {
        private readonly byte[] _header = new byte[5];
        private int _headerRead;
        private int _bodyLeft;

        public bool AtRecordStart => _headerRead == 0 && _bodyLeft == 0;

        /// <summary>How many of <paramref name="bytes"/> belong to the current record (all of them if it goes on).</summary>
        public int Take(ReadOnlySpan<byte> bytes)
        {
            var taken = 0;
            while (taken < bytes.Length)
            {
                if (_headerRead < _header.Length)
                {
                    _header[_headerRead++] = bytes[taken++];
                    if (_headerRead == _header.Length)
                    {
                        _bodyLeft = (_header[3] << 8) | _header[4];
                        if (_bodyLeft == 0)
                        {
                            _headerRead = 0;
                            return taken;
                        }
                    }

                    continue;
                }

                var body = Math.Min(_bodyLeft, bytes.Length - taken);
                taken += body;
                _bodyLeft -= body;
                if (_bodyLeft == 0)
                {
                    _headerRead = 0;
                    return taken;
                }
            }

            return taken;
        }
    }

    /// <summary>Hands handshake bytes to the engine with BouncyCastle's Miller-Rabin check of RSA moduli off.</summary>
    /// <remarks>BouncyCastle 2.x tests every RSA public key it parses for compositeness (about 14 ms of CPU for a
    /// 2048-bit upstream key). SmtpLens records peer keys, it does not trust them, so that work buys nothing here.
    /// The setting is per thread, so it is set around the engine call and removed after, leaving the pool thread clean.</remarks>
    private void OfferHandshakeInput(byte[] network, int offset, int count)
    {
        Org.BouncyCastle.Utilities.Properties.SetThreadInt32(Org.BouncyCastle.Utilities.Properties.RsaMaxMRTests, 0);
        try
        {
            _protocol.OfferInput(network, offset, count);
        }
        finally
        {
            Org.BouncyCastle.Utilities.Properties.RemoveThreadProperty(Org.BouncyCastle.Utilities.Properties.RsaMaxMRTests);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return await WaitForInputAsync(cancellationToken);
        }

        while (true)
        {
            lock (_engine)
            {
                var available = _protocol.GetAvailableInputBytes();
                if (available > 0)
                {
                    return TakeInput(buffer, available);
                }

                if (_inputClosed || _protocol.IsClosed)
                {
                    return 0;
                }
            }

            bool outputPending;
            var network = ArrayPool<byte>.Shared.Rent(NetworkBufferSize);
            try
            {
                var n = await _transport.ReadAsync(network, cancellationToken);
                if (n == 0)
                {
                    // EOF without close_notify: a truncation the caller sees as end of stream.
                    _inputClosed = true;
                    return 0;
                }

                lock (_engine)
                {
                    _protocol.OfferInput(network, 0, n);
                    outputPending = _protocol.GetAvailableOutputBytes() > 0;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(network);
            }

            if (outputPending)
            {
                await FlushOutputAsync(cancellationToken);
            }

            if (_events?.AbortReason is { } abort)
            {
                throw new IOException(abort);
            }
        }
    }

    /// <summary>A zero-byte read: completes when the transport has bytes (or is closed) without holding a buffer.</summary>
    /// <remarks>The relay's pipes read this way so that an idle TLS leg holds neither the pipe's buffer nor a network
    /// buffer; the bytes stay in the socket until a real read takes them.</remarks>
    private async ValueTask<int> WaitForInputAsync(CancellationToken cancellationToken)
    {
        lock (_engine)
        {
            if (_protocol.GetAvailableInputBytes() > 0 || _inputClosed || _protocol.IsClosed)
            {
                return 0;
            }
        }

        return await _transport.ReadAsync(Memory<byte>.Empty, cancellationToken);
    }

    private int TakeInput(Memory<byte> buffer, int available)
    {
        var count = Math.Min(available, buffer.Length);
        // The relay's pipe buffers are arrays: the engine can copy straight into them.
        if (MemoryMarshal.TryGetArray<byte>(buffer, out var direct))
        {
            return _protocol.ReadInput(direct.Array!, direct.Offset, count);
        }

        var rented = ArrayPool<byte>.Shared.Rent(count);
        try
        {
            var read = _protocol.ReadInput(rented, 0, count);
            rented.AsSpan(0, read).CopyTo(buffer.Span);
            return read;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            Records records;
            if (MemoryMarshal.TryGetArray(buffer, out var direct))
            {
                lock (_engine)
                {
                    _protocol.WriteApplicationData(direct.Array!, direct.Offset, direct.Count);
                    records = DrainOutput();
                }
            }
            else
            {
                var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
                try
                {
                    buffer.Span.CopyTo(rented);
                    lock (_engine)
                    {
                        _protocol.WriteApplicationData(rented, 0, buffer.Length);
                        records = DrainOutput();
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }

            await WriteRecordsAsync(records, cancellationToken);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task FlushOutputAsync(CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            Records records;
            lock (_engine)
            {
                records = DrainOutput();
            }

            await WriteRecordsAsync(records, cancellationToken);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task TryFlushAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await FlushOutputAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // The peer is gone; the alert cannot be delivered and the caller reports the failure anyway.
        }
    }

    /// <summary>Takes the engine's pending records into a pooled array; <see cref="WriteRecordsAsync"/> returns it.</summary>
    private Records DrainOutput()
    {
        var available = _protocol.GetAvailableOutputBytes();
        if (available == 0)
        {
            return default;
        }

        var array = ArrayPool<byte>.Shared.Rent(available);
        return new Records(array, _protocol.ReadOutput(array, 0, available));
    }

    private async ValueTask WriteRecordsAsync(Records records, CancellationToken cancellationToken)
    {
        if (records.Array is null)
        {
            return;
        }

        try
        {
            await _transport.WriteAsync(records.Array.AsMemory(0, records.Length), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(records.Array);
        }
    }

    private readonly record struct Records(byte[]? Array, int Length);

    /// <summary>Ends the session with a fatal alert (encrypted if keys are active) instead of close_notify.</summary>
    public async Task AbortAsync(byte description, string message)
    {
        if (_protocol is not AbortableTlsServerProtocol abortable)
        {
            await CloseNotifyAsync();
            return;
        }

        if (_closed)
        {
            return;
        }

        _closed = true;
        lock (_engine)
        {
            abortable.Abort(description, message);
        }

        await TryFlushAsync();
    }

    /// <summary>Sends close_notify. The transport itself belongs to the session and stays open.</summary>
    public async Task CloseNotifyAsync()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        try
        {
            lock (_engine)
            {
                _protocol.Close();
            }
        }
        catch (IOException)
        {
            // Already failed or closed.
        }

        await TryFlushAsync();
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _writeGate.Dispose();
        }

        base.Dispose(disposing);
    }
}
