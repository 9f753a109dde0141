using System.Buffers;
using System.IO.Pipelines;

namespace SmtpLens.IO;

/// <summary>A stream over an in-memory pipe pair: what one end writes, the other reads.</summary>
internal sealed class DuplexPipeStream(PipeReader input, PipeWriter output) : AsyncOnlyStream
{
    /// <summary>Two connected ends, like a socket pair without the kernel.</summary>
    public static (DuplexPipeStream A, PipeReader BReader, PipeWriter BWriter) CreatePair()
    {
        var aToB = new Pipe();
        var bToA = new Pipe();
        return (new DuplexPipeStream(bToA.Reader, aToB.Writer), aToB.Reader, bToA.Writer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await input.ReadAsync(cancellationToken);
        var count = (int)Math.Min(buffer.Length, read.Buffer.Length);
        read.Buffer.Slice(0, count).CopyTo(buffer.Span);
        input.AdvanceTo(read.Buffer.GetPosition(count));
        return count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var result = await output.WriteAsync(buffer, cancellationToken);
        if (result.IsCompleted)
        {
            throw new IOException("the other end of the in-memory connection has closed");
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Half-close: the other end reads to the end, like shutdown(SHUT_WR) on a socket.</summary>
    public void CompleteWriting() => output.Complete();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input.Complete();
            output.Complete();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await input.CompleteAsync();
        await output.CompleteAsync();
        await base.DisposeAsync();
    }
}
