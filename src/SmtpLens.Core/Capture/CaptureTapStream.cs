using System.Net.Sockets;
using SmtpLens.IO;

namespace SmtpLens.Capture;

/// <summary>A leg's socket stream, reporting each read and write to the session's capture; bytes pass unchanged.</summary>
/// <remarks>Sits below TLS, so the capture holds what was on the wire. A write is recorded before it is issued: the
/// peer's answer can be read (and recorded) by the other pump before the write call returns.</remarks>
internal sealed class CaptureTapStream(Stream wire, SessionCapture capture, CaptureLeg leg) : AsyncOnlyStream
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await wire.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            await capture.RecordResetAsync(leg, inbound: true);
            throw;
        }

        // A zero-byte read of an empty buffer is the pipe waiting for data, not the peer's FIN.
        if (buffer.Length > 0)
        {
            if (read > 0)
            {
                await capture.RecordAsync(leg, inbound: true, buffer[..read], cancellationToken);
            }
            else
            {
                await capture.RecordFinAsync(leg, inbound: true);
            }
        }

        return read;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!buffer.IsEmpty)
        {
            await capture.RecordAsync(leg, inbound: false, buffer, cancellationToken);
        }

        try
        {
            await wire.WriteAsync(buffer, cancellationToken);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown })
        {
            // ECONNRESET or EPIPE on a write: the peer reset the connection while SmtpLens was sending.
            await capture.RecordResetAsync(leg, inbound: true);
            throw;
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => wire.FlushAsync(cancellationToken);
}
