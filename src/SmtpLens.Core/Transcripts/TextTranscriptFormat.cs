using SmtpLens.IO;

namespace SmtpLens.Transcripts;

/// <summary><c>&lt;session&gt;.log</c>: what an admin reads during an incident. C:/S: for the two MTAs, * for us.</summary>
internal sealed class TextTranscriptFormat : ITranscriptFormat
{
    private readonly TextWriter _writer;

    public TextTranscriptFormat(string path, SessionInfo info, bool redacting, UnixFileMode mode = PrivateFiles.OwnerOnly)
    {
        _writer = TranscriptFiles.CreateWriter(path, mode);
        _writer.WriteLine($"# SmtpLens transcript, session {info.SessionId}, listener {info.ListenerName}");
        // Under TPROXY the accepted socket's local address is the client's real destination, not SmtpLens's own.
        _writer.WriteLine(info.Route == "tproxy"
            ? $"# client {info.ClientEndPoint} -> {info.ListenEndPoint} (its original destination, intercepted by SmtpLens via TPROXY)"
            : $"# client {info.ClientEndPoint} -> smtplens {info.ListenEndPoint}");
        _writer.WriteLine(redacting
            ? "# AUTH secrets are redacted"
            : "# WARNING: redaction disabled (--no-redact): this file contains AUTH secrets");
    }

    public void Write(TranscriptEvent e)
    {
        var ts = e.TimestampText;
        var prefix = e.Direction switch
        {
            Direction.Client => "C:",
            Direction.Server => "S:",
            _ => "*",
        };

        _writer.Write(ts);
        _writer.Write(' ');
        _writer.Write(prefix);
        _writer.Write(' ');
        _writer.WriteLine(e.Text);

        if (e.Kind == EventKinds.Message && e.Data?.GetValueOrDefault("headers") is string headers)
        {
            foreach (var line in headers.Split('\n'))
            {
                var trimmed = line.TrimEnd('\r');
                if (trimmed.Length > 0)
                {
                    _writer.Write(ts);
                    _writer.Write(" *   | ");
                    _writer.WriteLine(trimmed);
                }
            }
        }
        else if (e.Kind == EventKinds.Summary && e.Data?.GetValueOrDefault("lines") is IEnumerable<string> lines)
        {
            foreach (var line in lines)
            {
                _writer.Write(ts);
                _writer.Write(" *   ");
                _writer.WriteLine(line);
            }
        }
    }

    public void Flush() => _writer.Flush();

    public void Dispose() => _writer.Dispose();
}
