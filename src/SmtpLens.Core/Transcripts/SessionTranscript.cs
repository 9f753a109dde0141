namespace SmtpLens.Transcripts;

/// <summary>Numbers, timestamps and fans out one session's events to its transcript files and observers.</summary>
/// <remarks>Both relay directions record into it, so every call takes one lock; events are small and rare
/// next to message content, which never passes through here.</remarks>
internal sealed class SessionTranscript : ITranscriptRecorder, IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<ITranscriptFormat> _formats = [];
    private readonly TimeProvider _time;
    private readonly SessionInfo _info;
    private long _seq;
    private bool _disposed;
    private bool _dirty;

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
            _formats.Add(new ExchangeCsvTranscriptFormat(stem + ".csv", info, time.GetUtcNow()));
        }
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
            foreach (var format in _formats)
            {
                format.Write(e);
            }

            _dirty = true;
            EventRecorded?.Invoke(e);
        }
    }

    /// <summary>Pushes buffered lines to disk so <c>tail -f</c> shows a session as it happens.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            if (!_dirty || _disposed)
            {
                return;
            }

            _dirty = false;
            foreach (var format in _formats)
            {
                format.Flush();
            }
        }
    }

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

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var format in _formats)
            {
                format.Dispose();
            }
        }
    }
}
