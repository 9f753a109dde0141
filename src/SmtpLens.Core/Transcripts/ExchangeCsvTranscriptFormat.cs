using System.Globalization;
using System.Text;

namespace SmtpLens.Transcripts;

/// <summary><c>&lt;session&gt;.csv</c> in Exchange's protocol-log layout, to lay beside Exchange's own logs.</summary>
/// <remarks>Seen from the sending MTA, like a Send Connector log: <c>&gt;</c> is what the client sent,
/// <c>&lt;</c> what the upstream answered, local-endpoint is the client and remote-endpoint the upstream.</remarks>
internal sealed class ExchangeCsvTranscriptFormat : ITranscriptFormat
{
    public const string FieldsLine = "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context";
    private readonly StreamWriter _writer;
    private readonly SessionInfo _info;

    public ExchangeCsvTranscriptFormat(string path, SessionInfo info, DateTimeOffset created)
    {
        _info = info;
        _writer = new StreamWriter(new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
        _writer.WriteLine("#Software: SmtpLens");
        _writer.WriteLine("#Version: 1.0");
        _writer.WriteLine("#Log-type: SmtpLens Proxy Protocol Log");
        _writer.WriteLine($"#Date: {created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)}");
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

        var row = string.Join(
            ',',
            e.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            Quote(_info.ListenerName),
            Quote(_info.SessionId),
            e.Seq.ToString(CultureInfo.InvariantCulture),
            Quote(_info.ClientEndPoint?.ToString() ?? string.Empty),
            Quote(_info.UpstreamEndPoint?.ToString() ?? _info.UpstreamName),
            evt,
            Quote(data),
            Quote(context));
        _writer.WriteLine(row);
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
