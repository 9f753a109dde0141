using System.Threading.Channels;

namespace SmtpLens.Transcripts;

/// <summary>Numbers, timestamps and fans out one session's events to its transcript files and observers.</summary>
/// <remarks>Both relay directions record into it under one lock that only numbers the event and queues it.
/// Creating the files, formatting and file I/O run on a background writer, so a slow disk or a busy
/// formatter never adds latency to the SMTP round trips being relayed, and a disk that fails is reported
/// without stopping the relay.</remarks>
internal sealed class SessionTranscript : ITranscriptRecorder, IDisposable
{
    // Creating files in one directory from many threads at once makes the kernel contend on the directory's
    // lock (ext4 spins on it); one at a time is cheaper, and it happens on the writer, off the relay's path.
    private static readonly Lock FileCreation = new();
    private readonly Lock _gate = new();
    private readonly List<ITranscriptFormat> _formats = [];
    private readonly Channel<TranscriptEvent> _queue = Channel.CreateUnbounded<TranscriptEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly CancellationTokenSource _closing = new();
    private readonly TimeProvider _time;
    private readonly SessionInfo _info;
    private readonly DateTimeOffset _created;
    private readonly Action<Exception>? _writeFailed;
    private long _seq;
    private bool _disposed;

    public SessionTranscript(SessionInfo info, TranscriptOptions options, TimeProvider time, Action<Exception>? writeFailed = null)
    {
        _info = info;
        _time = time;
        _created = time.GetUtcNow();
        _writeFailed = writeFailed;
        Options = options;
        _writer = options.Directory is { } dir ? Task.Run(() => WriteLoopAsync(dir)) : Task.CompletedTask;
    }

    public TranscriptOptions Options { get; }

    public SessionInfo Info => _info;

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
            if (Options.Directory is not null)
            {
                _queue.Writer.TryWrite(e);
            }

            EventRecorded?.Invoke(e);
        }
    }

    private async Task WriteLoopAsync(string directory)
    {
        var reader = _queue.Reader;
        var writing = TryOpen(directory);
        TranscriptEvent? previous = null;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var e))
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

            writing = writing && TryWrite(0, static (format, _) => format.Flush());

            // Batch: waking per event costs a thread-pool hop per SMTP line; a tenth of a second is still live for tail -f.
            try
            {
                await Task.Delay(FlushInterval, _time, _closing.Token);
            }
            catch (OperationCanceledException)
            {
                // Closing: drain what is left and stop.
            }
        }
    }

    /// <summary>Creates the session's files; on failure the relay carries on and the failure is reported once.</summary>
    private bool TryOpen(string directory)
    {
        try
        {
            lock (FileCreation)
            {
                Directory.CreateDirectory(directory);
                var stem = Path.Combine(directory, _info.SessionId);
                _formats.Add(new TextTranscriptFormat(stem + ".log", _info, Options.Redact));
                _formats.Add(new JsonLinesTranscriptFormat(stem + ".jsonl", Options.Instance));
                _formats.Add(new ExchangeCsvTranscriptFormat(stem + ".csv", _info, _created, Options.Redact));
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _writeFailed?.Invoke(e);
            return false;
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

    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Opens the file for a captured message, or returns null when capture is off.</summary>
    public Stream? OpenMessageCapture(int messageNumber)
    {
        if (!Options.CaptureMessages || Options.Directory is null)
        {
            return null;
        }

        var path = Path.Combine(Options.Directory, $"{_info.SessionId}-{messageNumber}.eml");
        return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 64 * 1024);
    }

    /// <summary>Drains the queue, then closes the files.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _queue.Writer.TryComplete();
            _closing.Cancel();
        }

        _writer.GetAwaiter().GetResult();
        _closing.Dispose();
        TryWrite(0, static (format, _) => format.Dispose());
    }
}
