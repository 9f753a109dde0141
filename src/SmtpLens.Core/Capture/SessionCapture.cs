using System.Buffers;
using System.Net;
using System.Threading.Channels;
using SmtpLens.IO;

namespace SmtpLens.Capture;

/// <summary><c>--pcap DIR</c>: one session's two legs as <c>&lt;session&gt;.pcapng</c>, written by a background writer.</summary>
/// <remarks>The taps copy each read and write into a bounded queue and return; creating the file, building packets
/// and disk I/O run on the writer, as for <see cref="Transcripts.SessionTranscript"/>. When the queue is full a tap
/// awaits room (the relay slows down, no thread blocks, nothing is dropped). A disk that fails is reported once and
/// the session is relayed without its capture. The file is created with the transcripts' mode (0600 by default):
/// it holds the session's TLS secrets.</remarks>
internal sealed class SessionCapture : IAsyncDisposable
{
    private readonly Channel<CaptureEvent> _queue;
    private readonly Lock _gate = new();
    private readonly List<string> _secrets = [];
    private readonly TimeProvider _time;
    private readonly UnixFileMode _mode;
    private readonly string _directory;
    private readonly string _sessionId;
    private readonly Action<Exception>? _failed;
    private readonly Task _writer;
    private bool _ended;

    public SessionCapture(string directory, string sessionId, UnixFileMode mode, TimeProvider time, Action<Exception>? failed = null, int queueCapacity = 1024)
    {
        _directory = directory;
        _sessionId = sessionId;
        _mode = mode;
        _time = time;
        _failed = failed;
        FilePath = Path.Combine(directory, sessionId + ".pcapng");
        _queue = Channel.CreateBounded<CaptureEvent>(new BoundedChannelOptions(Math.Max(1, queueCapacity)) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _writer = Task.Run(WriteLoopAsync);
    }

    public string FilePath { get; }

    /// <summary>The leg's socket stream with every read and write recorded.</summary>
    public Stream Tap(Stream wire, CaptureLeg leg) => new CaptureTapStream(wire, this, leg);

    /// <summary>A leg's TCP connection exists; endpoints the socket cannot name are left out of the capture.</summary>
    public ValueTask OpenAsync(CaptureLeg leg, EndPoint? smtpLens, EndPoint? peer) =>
        smtpLens is IPEndPoint local && peer is IPEndPoint remote
            ? EnqueueAsync(new CaptureEvent(CaptureEventKind.Open, leg, false, _time.GetUtcNow(), null, 0) { Local = local, Remote = remote }, CancellationToken.None)
            : ValueTask.CompletedTask;

    public ValueTask RecordAsync(CaptureLeg leg, bool inbound, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var copy = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(copy);
        return EnqueueAsync(new CaptureEvent(CaptureEventKind.Data, leg, inbound, _time.GetUtcNow(), copy, bytes.Length), cancellationToken);
    }

    public ValueTask RecordFinAsync(CaptureLeg leg, bool inbound) =>
        EnqueueAsync(new CaptureEvent(CaptureEventKind.Fin, leg, inbound, _time.GetUtcNow(), null, 0), CancellationToken.None);

    public ValueTask RecordResetAsync(CaptureLeg leg, bool inbound) =>
        EnqueueAsync(new CaptureEvent(CaptureEventKind.Reset, leg, inbound, _time.GetUtcNow(), null, 0), CancellationToken.None);

    /// <summary>Before a TLS handshake: packets wait in the writer until <see cref="ReleaseAsync"/> has written the secrets.</summary>
    public ValueTask HoldAsync() => EnqueueAsync(new CaptureEvent(CaptureEventKind.Hold, default, false, _time.GetUtcNow(), null, 0), CancellationToken.None);

    /// <summary>After the handshakes: the secrets they produced go into the file, then the held packets.</summary>
    public ValueTask ReleaseAsync() => EnqueueAsync(new CaptureEvent(CaptureEventKind.Release, default, false, _time.GetUtcNow(), null, 0), CancellationToken.None);

    /// <summary>A TLS secret of one leg, in NSS key-log form; called synchronously from inside the handshake.</summary>
    public void AddSecret(string label, byte[] clientRandom, byte[] secret)
    {
        lock (_gate)
        {
            _secrets.Add($"{label} {Convert.ToHexStringLower(clientRandom)} {Convert.ToHexStringLower(secret)}");
        }
    }

    /// <summary>Closes the legs (FIN, or RST when <paramref name="aborted"/>), then waits for the file to be complete.</summary>
    public async ValueTask CompleteAsync(bool aborted)
    {
        lock (_gate)
        {
            if (_ended)
            {
                return;
            }

            _ended = true;
        }

        await EnqueueAsync(new CaptureEvent(CaptureEventKind.End, default, aborted, _time.GetUtcNow(), null, 0), CancellationToken.None);
        _queue.Writer.TryComplete();
        await _writer;
    }

    public ValueTask DisposeAsync() => CompleteAsync(aborted: true);

    private async ValueTask EnqueueAsync(CaptureEvent e, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(e, cancellationToken);
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            // Ended (or the session is being cancelled): nothing more goes into the file.
            Return(e);
            if (ex is OperationCanceledException)
            {
                throw;
            }
        }
    }

    private List<string> TakeSecrets()
    {
        lock (_gate)
        {
            var taken = new List<string>(_secrets);
            _secrets.Clear();
            return taken;
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        FileStream? file = null;
        CaptureWriter? writer = null;
        var failed = false;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var e))
                {
                    try
                    {
                        if (!failed)
                        {
                            if (writer is null)
                            {
                                PrivateFiles.CreateDirectory(_directory, _mode);
                                file = PrivateFiles.Open(FilePath, FileMode.Create, _mode, bufferSize: 64 * 1024);
                                PrivateFiles.Restrict(FilePath, _mode);
                                writer = new CaptureWriter(file, _sessionId);
                            }

                            Apply(writer, e);
                        }
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        // A full disk must not stop the relay; the capture ends where writing failed.
                        failed = true;
                        _failed?.Invoke(ex);
                    }
                    finally
                    {
                        Return(e);
                    }
                }

                if (!failed && file is not null)
                {
                    try
                    {
                        await file.FlushAsync();
                    }
                    catch (IOException ex)
                    {
                        failed = true;
                        _failed?.Invoke(ex);
                    }
                }
            }
        }
        finally
        {
            if (file is not null)
            {
                try
                {
                    await file.DisposeAsync();
                }
                catch (IOException ex)
                {
                    _failed?.Invoke(ex);
                }
            }
        }
    }

    private void Apply(CaptureWriter writer, CaptureEvent e)
    {
        switch (e.Kind)
        {
            case CaptureEventKind.Open:
                writer.Open(e.Leg, e.Local!, e.Remote!, e.Time);
                break;
            case CaptureEventKind.Data:
                writer.Data(e.Leg, e.Inbound, e.Bytes.AsSpan(0, e.Length), e.Time);
                break;
            case CaptureEventKind.Fin:
                writer.Fin(e.Leg, e.Inbound, e.Time);
                break;
            case CaptureEventKind.Reset:
                writer.Reset(e.Leg, e.Inbound, e.Time);
                break;
            case CaptureEventKind.Hold:
                writer.Hold();
                break;
            case CaptureEventKind.Release:
                writer.Release(TakeSecrets());
                break;
            case CaptureEventKind.End:
                writer.End(aborted: e.Inbound, TakeSecrets(), e.Time);
                break;
        }
    }

    private static void Return(CaptureEvent e)
    {
        if (e.Bytes is { } bytes)
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private enum CaptureEventKind
    {
        Open,
        Data,
        Fin,
        Reset,
        Hold,
        Release,
        End,
    }

    /// <summary>One queued event; for End, <see cref="Inbound"/> carries "aborted".</summary>
    private sealed record CaptureEvent(CaptureEventKind Kind, CaptureLeg Leg, bool Inbound, DateTimeOffset Time, byte[]? Bytes, int Length)
    {
        public IPEndPoint? Local { get; init; }

        public IPEndPoint? Remote { get; init; }
    }
}
