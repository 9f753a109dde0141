using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SmtpLens.IO;

namespace SmtpLens.Transcripts;

/// <summary>Numbers, timestamps and fans out one session's events to its transcript files and observers.</summary>
/// <remarks>Both relay directions record into it under one lock that only numbers the event and queues it.
/// Creating the files, formatting and file I/O run on a background writer, so a slow disk or a busy
/// formatter never adds latency to the SMTP round trips being relayed, and a disk that fails is reported
/// without stopping the relay. The queue is bounded: <see cref="Record"/> runs synchronously (often under the
/// dialogue's lock) so it never waits; events beyond the bound are held in order in an overflow, and the
/// session's relay loop awaits <see cref="WaitForWriterAsync"/> until the writer has caught up. Nothing is dropped
/// and no thread blocks. Completion (<see cref="DisposeAsync"/>) is awaited, never waited on.</remarks>
internal sealed class SessionTranscript : ITranscriptRecorder, IAsyncDisposable
{
    // Creating files in one directory from many tasks at once makes the kernel contend on the directory's
    // lock (ext4 spins on it); one at a time is cheaper. An async gate: a lock here parked a pool thread per session.
    private static readonly SemaphoreSlim FileCreation = new(1, 1);
    private static readonly TimeSpan BackPressureLogInterval = TimeSpan.FromMinutes(1);
    private static long _lastBackPressureLog = long.MinValue;
    private readonly Lock _gate = new();
    private readonly List<ITranscriptFormat> _formats = [];
    private readonly Channel<TranscriptEvent> _queue;
    private readonly Queue<TranscriptEvent> _overflow = new();
    private readonly Task _writer;
    private readonly TimeProvider _time;
    private readonly SessionInfo _info;
    private readonly DateTimeOffset _created;
    private readonly Action<Exception>? _writeFailed;
    private readonly ILogger? _log;
    private TaskCompletionSource? _caughtUp;
    private TaskCompletionSource? _wake;
    private long _seq;
    private bool _disposed;

    public SessionTranscript(SessionInfo info, TranscriptOptions options, TimeProvider time, Action<Exception>? writeFailed = null, ILogger? log = null)
    {
        _info = info;
        _time = time;
        _created = time.GetUtcNow();
        _writeFailed = writeFailed;
        _log = log;
        Options = options;
        _queue = Channel.CreateBounded<TranscriptEvent>(new BoundedChannelOptions(Math.Max(1, options.QueueCapacity)) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _writer = options.Directory is { } dir ? Task.Run(() => WriteLoopAsync(dir)) : Task.CompletedTask;
    }

    public TranscriptOptions Options { get; }

    public SessionInfo Info => _info;

    /// <summary>Events recorded but held back because the writer's queue was full (tests and diagnostics).</summary>
    public int Overflowing
    {
        get
        {
            lock (_gate)
            {
                return _overflow.Count;
            }
        }
    }

    /// <summary>Called for every event, under the transcript's lock, in sequence order.</summary>
    public event Action<TranscriptEvent>? EventRecorded;

    public void Record(Direction direction, string kind, string text, IReadOnlyDictionary<string, object?>? data = null)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var e = new TranscriptEvent(_info.SessionId, ++_seq, _time.GetUtcNow(), direction, kind, text, data);
            if (Options.Directory is not null && (_overflow.Count > 0 || !_queue.Writer.TryWrite(e)))
            {
                // Full: keep it, in order, behind the queue, and wake the writer from its flush pause; the relay
                // loop waits at its next drain point.
                _overflow.Enqueue(e);
                _wake?.TrySetResult();
            }

            EventRecorded?.Invoke(e);
        }
    }

    /// <summary>The session's async drain point: completes at once unless the writer is behind, and then when it has
    /// caught up, so a session that produces events faster than the disk takes them slows down instead of growing.</summary>
    public ValueTask WaitForWriterAsync(CancellationToken cancellationToken)
    {
        Task caughtUp;
        int pending;
        lock (_gate)
        {
            if (_overflow.Count == 0)
            {
                return ValueTask.CompletedTask;
            }

            _caughtUp ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            caughtUp = _caughtUp.Task;
            pending = _overflow.Count + _queue.Reader.Count;
        }

        ReportBackPressure(pending);
        return new ValueTask(caughtUp.WaitAsync(cancellationToken));
    }

    private void ReportBackPressure(int pending)
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastBackPressureLog);
        if (last != long.MinValue && _time.GetElapsedTime(last, now) < BackPressureLogInterval)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _lastBackPressureLog, now, last) == last)
        {
            _log?.LogWarning("{SessionId} transcript writer is behind ({Pending} events pending, queue bound {Capacity}): the session's relay waits for it to catch up; nothing is dropped. Logged at most once a minute. A slow or busy disk under --transcripts?", _info.SessionId, pending, Options.QueueCapacity);
        }
    }

    /// <summary>Moves held-back events into the queue as room appears; finishes the queue once closing and empty.</summary>
    private void Refill()
    {
        TaskCompletionSource? caughtUp = null;
        lock (_gate)
        {
            while (_overflow.TryPeek(out var e) && _queue.Writer.TryWrite(e))
            {
                _overflow.Dequeue();
            }

            if (_overflow.Count == 0)
            {
                (caughtUp, _caughtUp) = (_caughtUp, null);
                if (_disposed)
                {
                    _queue.Writer.TryComplete();
                }
            }
        }

        caughtUp?.TrySetResult();
    }

    private async Task WriteLoopAsync(string directory)
    {
        var reader = _queue.Reader;
        var writing = await TryOpenAsync(directory);
        TranscriptEvent? previous = null;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                // Bounded work per wake-up: one batch, then the pool thread goes back to the other sessions.
                for (var n = 0; n < MaxBatch && reader.TryRead(out var e); n++)
                {
                    if (!writing)
                    {
                        continue;
                    }

                    if (previous is not null)
                    {
                        e.ReuseTimestampText(previous);
                    }

                    previous = e;
                    writing = TryWrite(e, static (format, e) => format.Write(e));
                }

                Refill();
                if (reader.Count > 0)
                {
                    await Task.Yield();
                    continue;
                }

                writing = writing && TryWrite(0, static (format, _) => format.Flush());
                await PauseAsync();
            }
        }
        finally
        {
            TryWrite(0, static (format, _) => format.Dispose());
        }
    }

    private const int MaxBatch = 256;

    /// <summary>Batching: waking per event costs a thread-pool hop per SMTP line; a tenth of a second is still live for
    /// tail -f. A full queue or closing ends the pause early.</summary>
    private async Task PauseAsync()
    {
        TaskCompletionSource wake;
        lock (_gate)
        {
            if (_disposed || _overflow.Count > 0)
            {
                return;
            }

            wake = _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        await wake.Task.WaitAsync(Options.FlushInterval, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_gate)
        {
            _wake = null;
        }
    }

    /// <summary>Creates the session's files; on failure the relay carries on and the failure is reported once.</summary>
    private async Task<bool> TryOpenAsync(string directory)
    {
        await FileCreation.WaitAsync();
        try
        {
            PrivateFiles.CreateDirectory(directory, Options.FileMode);
            var stem = Path.Combine(directory, _info.SessionId);
            _formats.Add(new TextTranscriptFormat(stem + ".log", _info, Options.Redact, Options.FileMode));
            _formats.Add(new JsonLinesTranscriptFormat(stem + ".jsonl", Options.Instance, Options.FileMode));
            _formats.Add(new ExchangeCsvTranscriptFormat(stem + ".csv", _info, _created, Options.Redact, Options.FileMode));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _writeFailed?.Invoke(e);
            return false;
        }
        finally
        {
            FileCreation.Release();
        }
    }

    private bool TryWrite<TState>(TState state, Action<ITranscriptFormat, TState> step)
    {
        try
        {
            foreach (var format in _formats)
            {
                step(format, state);
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk must not stop the relay; the files end where writing failed.
            _writeFailed?.Invoke(e);
            return false;
        }
    }


    /// <summary>Opens the file for a captured message, or returns null when capture is off.</summary>
    public Stream? OpenMessageCapture(int messageNumber)
    {
        if (!Options.CaptureMessages || Options.Directory is null)
        {
            return null;
        }

        // The writer may not have made the directory yet when a message starts right away.
        PrivateFiles.CreateDirectory(Options.Directory, Options.FileMode);
        var path = Path.Combine(Options.Directory, $"{_info.SessionId}-{messageNumber}.eml");
        return PrivateFiles.Open(path, FileMode.CreateNew, Options.FileMode, bufferSize: 64 * 1024);
    }

    /// <summary>Drains the queue, then closes the files; awaited on the session's own path, it parks no thread.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_overflow.Count == 0)
            {
                _queue.Writer.TryComplete();
            }

            _wake?.TrySetResult();
        }

        await _writer.ConfigureAwait(false);
    }
}
