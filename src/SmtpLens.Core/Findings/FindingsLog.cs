using System.Text.Json;
using SmtpLens.IO;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary><c>--findings FILE</c>: one JSON line per finding across all sessions (<see cref="FindingJson"/>),
/// appended and flushed as each finding arises so <c>tail -f</c> and log shippers see it at once.</summary>
internal sealed class FindingsLog : IDisposable
{
    private readonly Lock _gate = new();
    private readonly FileStream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly string _instance;
    private bool _disposed;

    public FindingsLog(string path, string instance, UnixFileMode mode = PrivateFiles.OwnerOnly)
    {
        var full = Path.GetFullPath(path);
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(full)!, mode);
        _stream = PrivateFiles.Open(full, FileMode.Append, mode);

        // Findings quote the sessions' mail; an existing file is brought to the same mode as a new one.
        PrivateFiles.Restrict(full, mode);
        _json = new Utf8JsonWriter(_stream, new JsonWriterOptions { Indented = false, Encoder = JsonLinesTranscriptFormat.Encoder });
        _instance = instance;
        FilePath = full;
    }

    public string FilePath { get; }

    /// <summary>Sessions write concurrently; one lock keeps each line whole.</summary>
    public void Write(Finding finding)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            FindingJson.Write(_json, finding, _instance);
            _json.Flush();
            _json.Reset();
            _stream.WriteByte((byte)'\n');
            _stream.Flush();
        }
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
            _json.Dispose();
            _stream.Dispose();
        }
    }
}
