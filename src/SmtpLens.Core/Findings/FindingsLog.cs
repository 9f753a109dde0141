using System.Text.Json;
using System.Threading.Channels;
using SmtpLens.IO;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary><c>--findings FILE</c>: one JSON line per finding across all sessions (<see cref="FindingJson"/>),
/// appended and flushed as findings arise so <c>tail -f</c> and log shippers see them at once. Other per-session
/// records (one per policy verdict) share the file as lines with a <c>type</c>; finding lines have none, so filters
/// written for findings keep working.</summary>
/// <remarks>Findings are raised under the session's transcript lock on the relay path, so <see cref="Write(Finding)"/> only
/// queues; one background writer formats, writes and flushes each batch. Closing drains the queue first.</remarks>
internal sealed class FindingsLog : IAsyncDisposable
{
    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly FileStream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly string _instance;
    private readonly Action<Exception>? _writeFailed;
    private readonly Task _writer;

    public FindingsLog(string path, string instance, UnixFileMode mode = PrivateFiles.OwnerOnly, Action<Exception>? writeFailed = null)
    {
        var full = Path.GetFullPath(path);
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(full)!, mode);
        _stream = PrivateFiles.Open(full, FileMode.Append, mode);

        // Findings quote the sessions' mail; an existing file is brought to the same mode as a new one.
        PrivateFiles.Restrict(full, mode);
        _json = new Utf8JsonWriter(_stream, new JsonWriterOptions { Indented = false, Encoder = JsonLinesTranscriptFormat.Encoder });
        _instance = instance;
        _writeFailed = writeFailed;
        FilePath = full;
        _writer = Task.Run(WriteLoopAsync);
    }

    public string FilePath { get; }

    /// <summary>Queues the finding; never waits. A finding raised after closing is not written.</summary>
    public void Write(Finding finding) => _queue.Writer.TryWrite(finding);

    /// <summary>Queues a typed record (a tls-policy verdict); never waits.</summary>
    public void Write(FindingsLogRecord record) => _queue.Writer.TryWrite(record);

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var writing = true;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var entry))
            {
                writing = writing && TryWrite(entry);
            }

            writing = writing && TryFlush();
        }
    }

    private bool TryWrite(object entry)
    {
        try
        {
            if (entry is Finding finding)
            {
                FindingJson.Write(_json, finding, _instance);
            }
            else
            {
                ((FindingsLogRecord)entry).Write(_json, _instance);
            }

            _json.Flush();
            _json.Reset();
            _stream.WriteByte((byte)'\n');
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk must not stop the relay; the file ends where writing failed.
            _writeFailed?.Invoke(e);
            return false;
        }
    }

    private bool TryFlush()
    {
        try
        {
            _stream.Flush();
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _writeFailed?.Invoke(e);
            return false;
        }
    }

    /// <summary>Writes every finding queued so far, then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_queue.Writer.TryComplete())
        {
            await _writer.ConfigureAwait(false);
            await _json.DisposeAsync().ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A line of the findings file that is not a finding: ts, instance, session, type, then its data.</summary>
internal sealed record FindingsLogRecord(string Type, DateTimeOffset At, string Session, IReadOnlyDictionary<string, object?> Data)
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false, Encoder = JsonLinesTranscriptFormat.Encoder };

    public void Write(Utf8JsonWriter json, string? instance)
    {
        json.WriteStartObject();
        json.WriteString("ts", TranscriptEvent.FormatTimestamp(At));
        if (instance is not null)
        {
            json.WriteString("instance", instance);
        }

        json.WriteString("session", Session);
        json.WriteString("type", Type);
        foreach (var (key, value) in Data)
        {
            if (key is not ("ts" or "instance" or "session" or "type"))
            {
                json.WritePropertyName(key);
                JsonSerializer.Serialize(json, value, value?.GetType() ?? typeof(object), Options);
            }
        }

        json.WriteEndObject();
    }
}
