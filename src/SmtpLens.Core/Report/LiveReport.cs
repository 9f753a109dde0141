namespace SmtpLens.Report;

/// <summary><c>proxy --report FILE</c>: watches the transcripts folder and rewrites the report (atomically)
/// when sessions have ended since the last write, so an admin can keep it open and refresh.</summary>
/// <remarks>It reads the finished <c>.jsonl</c> files rather than hooking the relay: a session counts as ended
/// once its file's last event is the summary, and the relay's path is never touched. Rewrites are coalesced: the
/// file is written at most once per rewrite interval, or ten times as long as the last write took (a report of
/// 10,000 sessions is tens of megabytes), and a last time at shutdown if sessions ended since.</remarks>
internal sealed class LiveReport : IAsyncDisposable
{
    private readonly string _transcripts;
    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly Action<Exception>? _failed;
    private readonly IncidentReport _report;
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _interval;
    private readonly TimeSpan _rewriteEvery;
    private Task _loop = Task.CompletedTask;
    private long? _lastWrite;
    private TimeSpan _lastWriteTook;
    private bool _pending;

    /// <param name="interval">How often the folder is looked at.</param>
    /// <param name="rewriteEvery">Shortest time between two rewrites of the file (default: <paramref name="interval"/>).</param>
    public LiveReport(string transcripts, string path, TimeProvider time, TimeSpan interval, Action<Exception>? failed = null, TimeSpan? rewriteEvery = null)
    {
        _transcripts = transcripts;
        _path = path;
        _time = time;
        _interval = interval;
        _rewriteEvery = rewriteEvery ?? interval;
        _failed = failed;
        _report = new IncidentReport([transcripts]);
    }

    /// <summary>How many times the file has been written.</summary>
    public int Writes { get; private set; }

    public void Start()
    {
        Refresh(force: true);
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(_interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                Refresh(force: false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Adds sessions that ended since the last look; rewrites the file when forced, or when sessions were
    /// added and the last write is long enough ago.</summary>
    public bool Refresh(bool force)
    {
        try
        {
            if (Directory.Exists(_transcripts))
            {
                foreach (var file in Directory.EnumerateFiles(_transcripts, "*.jsonl"))
                {
                    if (!_done.Contains(file) && Ended(file))
                    {
                        _report.AddFile(file, _transcripts);
                        _done.Add(file);
                        _pending = true;
                    }
                }
            }

            if (force || (_pending && Due()))
            {
                var started = _time.GetTimestamp();
                _report.WriteAtomically(_path, _time.GetUtcNow());
                _lastWrite = _time.GetTimestamp();
                _lastWriteTook = _time.GetElapsedTime(started, _lastWrite.Value);
                _pending = false;
                Writes++;
                return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or System.Text.Json.JsonException)
        {
            // A report that cannot be written must not stop the proxy; the next tick tries again.
            _failed?.Invoke(e);
        }

        return false;
    }

    private bool Due() =>
        _lastWrite is not { } last || _time.GetElapsedTime(last) >= TimeSpan.FromTicks(Math.Max(_rewriteEvery.Ticks, _lastWriteTook.Ticks * 10));

    /// <summary>The last line is the summary: the writer has flushed the whole session.</summary>
    private static bool Ended(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = stream.Length;
        if (length < 2)
        {
            return false;
        }

        var tail = new byte[(int)Math.Min(length, 1024 * 1024)];
        stream.Seek(-tail.Length, SeekOrigin.End);
        stream.ReadExactly(tail);
        var text = System.Text.Encoding.UTF8.GetString(tail).TrimEnd('\n');
        if (text.Length == 0 || !text.EndsWith('}') || length != stream.Length)
        {
            return false;
        }

        var last = text[(text.LastIndexOf('\n') + 1)..];
        return last.Contains("\"kind\":\"summary\"", StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;

        // Shutdown: whatever ended since the last rewrite is written now, whatever the interval.
        Refresh(force: false);
        if (_pending)
        {
            Refresh(force: true);
        }

        _stop.Dispose();
    }
}
