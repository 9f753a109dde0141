using System.Threading.Channels;

namespace SmtpLens.Transcripts;

/// <summary>Numbers, timestamps and fans out one session's events to its transcript files and observers.</summary>
/// <remarks>Both relay directions record into it under one lock that only numbers the event and queues it.
/// Formatting and file I/O run on a background writer, so a slow disk or a busy formatter never adds
/// latency to the SMTP round trips being relayed.</remarks>
internal sealed class SessionTranscript : ITranscriptRecorder, IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<ITranscriptFormat> _formats = [];
    private readonly Channel<TranscriptEvent> _queue = Channel.CreateUnbounded<TranscriptEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly CancellationTokenSource _closing = new();
    private readonly TimeProvider _time;
    private readonly SessionInfo _info;
    private long _seq;
    private bool _disposed;

    public SessionTranscript(SessionInfo info, TranscriptOptions options, TimeProvider time)
    {
        _info = info;
        _time = time;
        Options = options;
        if (options.Directory is { } dir)
        {
            Directory.CreateDirectory(dir);
            var stem = Path.Combine(dir, info.SessionId);
            _formats.Add(new TextTranscriptFormat(stem + ".log", info, options.Redact));
            _formats.Add(new JsonLinesTranscriptFormat(stem + ".jsonl", options.Instance));
            _formats.Add(new ExchangeCsvTranscriptFormat(stem + ".csv", info, time.GetUtcNow(), options.Redact));
        }

        _writer = _formats.Count > 0 ? Task.Run(WriteLoopAsync) : Task.CompletedTask;
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
            if (_formats.Count > 0)
            {
                _queue.Writer.TryWrite(e);
            }

            EventRecorded?.Invoke(e);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        TranscriptEvent? previous = null;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var e))
            {
                if (previous is not null)
                {
                    e.ReuseTimestampText(previous);
                }

                previous = e;
                foreach (var format in _formats)
                {
                    format.Write(e);
                }
            }

            foreach (var format in _formats)
            {
                format.Flush();
            }

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
        foreach (var format in _formats)
        {
            format.Dispose();
        }
    }
}
