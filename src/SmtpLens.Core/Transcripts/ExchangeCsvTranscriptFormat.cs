using System.Globalization;
using SmtpLens.IO;

namespace SmtpLens.Transcripts;

/// <summary><c>&lt;session&gt;.csv</c> in Exchange's protocol-log layout, to lay beside Exchange's own logs.</summary>
/// <remarks>Seen from the sending MTA, like a Send Connector log: <c>&gt;</c> is what the client sent,
/// <c>&lt;</c> what the upstream answered, local-endpoint is the client and remote-endpoint the upstream.</remarks>
internal sealed class ExchangeCsvTranscriptFormat : ITranscriptFormat
{
    public const string FieldsLine = "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context";
    private readonly TextWriter _writer;
    private readonly SessionInfo _info;
    private readonly string _listener;
    private readonly string _session;
    private readonly string _client;
    private string? _upstream;

    public ExchangeCsvTranscriptFormat(string path, SessionInfo info, DateTimeOffset created, bool redacting = true, UnixFileMode mode = PrivateFiles.OwnerOnly)
    {
        _info = info;
        _listener = Quote(info.ListenerName);
        _session = Quote(info.SessionId);
        _client = Quote(info.ClientEndPoint?.ToString() ?? string.Empty);
        _writer = TranscriptFiles.CreateWriter(path, mode);
        _writer.WriteLine("#Software: SmtpLens");
        _writer.WriteLine("#Version: 1.0");
        _writer.WriteLine("#Log-type: SmtpLens Proxy Protocol Log");
        _writer.WriteLine($"#Date: {created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)}");
        if (!redacting)
        {
            _writer.WriteLine("#Warning: redaction disabled (--no-redact): this file contains AUTH secrets");
        }

        _writer.WriteLine(FieldsLine);
    }

    public void Write(TranscriptEvent e)
    {
        var (evt, data, context) = e.Kind switch
        {
            EventKinds.Connect => ("+", string.Empty, e.Text),
            EventKinds.Disconnect => ("-", string.Empty, e.Text),
            _ when e.Direction == Direction.Client => (">", e.Text, string.Empty),
            _ when e.Direction == Direction.Server => ("<", e.Text, string.Empty),
            _ => ("*", string.Empty, e.Text),
        };

        // Written field by field: a joined row string per event was a measurable share of relay CPU.
        var w = _writer;
        w.Write(e.TimestampText);
        w.Write(',');
        w.Write(_listener);
        w.Write(',');
        w.Write(_session);
        w.Write(',');
        w.Write(e.Seq);
        w.Write(',');
        w.Write(_client);
        w.Write(',');
        // Cached once the upstream is connected; before that the configured name stands in.
        w.Write(_upstream ?? (_info.UpstreamEndPoint is { } up ? _upstream = Quote(up.ToString() ?? string.Empty) : Quote(_info.UpstreamName)));
        w.Write(',');
        w.Write(evt);
        w.Write(',');
        w.Write(Quote(data));
        w.Write(',');
        w.WriteLine(Quote(context));
    }

    /// <summary>RFC 4180 quoting, as Excel and Exchange's own log parser expect.</summary>
    public static string Quote(string field)
    {
        if (field.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            return field;
        }

        return "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    public void Flush() => _writer.Flush();

    public void Dispose() => _writer.Dispose();
}
