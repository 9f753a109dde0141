using System.Text.Encodings.Web;
using System.Text.Json;

namespace SmtpLens.Transcripts;

/// <summary><c>&lt;session&gt;.jsonl</c>: one object per event for jq and log shippers.</summary>
/// <remarks>Schema: ts, instance, session, seq, dir ("C", "S", "*"), kind, text, data (object, optional).</remarks>
internal sealed class JsonLinesTranscriptFormat : ITranscriptFormat
{
    // Relaxed escaping keeps '<', '>' and non-ASCII readable for grep; the output is still valid JSON.
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
    private static readonly JsonSerializerOptions DataOptions = new() { WriteIndented = false, Encoder = Encoder };
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly string _instance;

    public JsonLinesTranscriptFormat(string path, string instance)
    {
        _stream = new BufferedStream(new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read), 16 * 1024);
        _json = new Utf8JsonWriter(_stream, new JsonWriterOptions { Indented = false, Encoder = Encoder });
        _instance = instance;
    }

    public static string DirectionCode(Direction d) => d switch
    {
        Direction.Client => "C",
        Direction.Server => "S",
        _ => "*",
    };

    public void Write(TranscriptEvent e)
    {
        WriteObject(_json, e, _instance);
        _json.Flush();
        _json.Reset();
        _stream.WriteByte((byte)'\n');
    }

    /// <summary>Shared with the findings and summary writers so every JSON record has one shape.</summary>
    public static void WriteObject(Utf8JsonWriter json, TranscriptEvent e, string instance)
    {
        json.WriteStartObject();
        json.WriteString("ts", e.Timestamp.UtcDateTime);
        json.WriteString("instance", instance);
        json.WriteString("session", e.Session);
        json.WriteNumber("seq", e.Seq);
        json.WriteString("dir", DirectionCode(e.Direction));
        json.WriteString("kind", e.Kind);
        json.WriteString("text", e.Text);
        if (e.Data is { Count: > 0 })
        {
            json.WritePropertyName("data");
            JsonSerializer.Serialize(json, e.Data, DataOptions);
        }

        json.WriteEndObject();
    }

    public void Flush()
    {
        _json.Flush();
        _stream.Flush();
    }

    public void Dispose()
    {
        Flush();
        _json.Dispose();
        _stream.Dispose();
    }
}
