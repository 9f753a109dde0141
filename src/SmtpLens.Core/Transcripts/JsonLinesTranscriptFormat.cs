using System.Text.Encodings.Web;
using System.Text.Json;
using SmtpLens.IO;

namespace SmtpLens.Transcripts;

/// <summary><c>&lt;session&gt;.jsonl</c>: one object per event for jq and log shippers.</summary>
/// <remarks>Schema: ts, instance, session, seq, dir ("C", "S", "*"), kind, text, data (object, optional).</remarks>
internal sealed class JsonLinesTranscriptFormat : ITranscriptFormat
{
    // Relaxed escaping keeps '<', '>' and non-ASCII readable for grep; the output is still valid JSON.
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
    private static readonly JsonSerializerOptions DataOptions = new() { WriteIndented = false, Encoder = Encoder };
    // Events are rendered into one reusable buffer and reach the file in large writes: a Utf8JsonWriter
    // over a Stream flushes that stream on every Flush(), which cost one write(2) per event.
    private const int WriteThreshold = 32 * 1024;
    private readonly Stream _stream;
    private readonly TranscriptBuffer _buffer = new();
    private readonly Utf8JsonWriter _json;
    private readonly string _instance;
    private readonly JsonEncodedText _instanceText;
    private JsonEncodedText _sessionText;
    private string? _session;

    public JsonLinesTranscriptFormat(string path, string instance, UnixFileMode mode = PrivateFiles.OwnerOnly)
    {
        _stream = PrivateFiles.Open(path, FileMode.CreateNew, mode, bufferSize: 0);
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Indented = false, Encoder = Encoder });
        _instance = instance;
        _instanceText = JsonEncodedText.Encode(instance, Encoder);
    }

    private static readonly JsonEncodedText Ts = JsonEncodedText.Encode("ts");
    private static readonly JsonEncodedText InstanceName = JsonEncodedText.Encode("instance");
    private static readonly JsonEncodedText SessionName = JsonEncodedText.Encode("session");
    private static readonly JsonEncodedText SeqName = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText DirName = JsonEncodedText.Encode("dir");
    private static readonly JsonEncodedText KindName = JsonEncodedText.Encode("kind");
    private static readonly JsonEncodedText TextName = JsonEncodedText.Encode("text");
    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText[] DirCodes = [JsonEncodedText.Encode("C"), JsonEncodedText.Encode("S"), JsonEncodedText.Encode("*")];

    public static string DirectionCode(Direction d) => d switch
    {
        Direction.Client => "C",
        Direction.Server => "S",
        _ => "*",
    };

    public void Write(TranscriptEvent e)
    {
        if (!ReferenceEquals(e.Session, _session))
        {
            _session = e.Session;
            _sessionText = JsonEncodedText.Encode(e.Session, Encoder);
        }

        WriteObject(_json, e, _instanceText, _sessionText);
        _json.Flush();
        _json.Reset();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        if (_buffer.WrittenCount >= WriteThreshold)
        {
            WriteBuffered();
        }
    }

    private void WriteBuffered()
    {
        _stream.Write(_buffer.WrittenSpan);
        _buffer.ResetWrittenCount();
    }

    /// <summary>One event as a JSON object, for writers that are not per-session (findings, summaries).</summary>
    public static void WriteObject(Utf8JsonWriter json, TranscriptEvent e, string instance) =>
        WriteObject(json, e, JsonEncodedText.Encode(instance, Encoder), JsonEncodedText.Encode(e.Session, Encoder));

    private static void WriteObject(Utf8JsonWriter json, TranscriptEvent e, JsonEncodedText instance, JsonEncodedText session)
    {
        json.WriteStartObject();
        json.WriteString(Ts, e.TimestampText);
        json.WriteString(InstanceName, instance);
        json.WriteString(SessionName, session);
        json.WriteNumber(SeqName, e.Seq);
        json.WriteString(DirName, DirCodes[(int)e.Direction]);
        json.WriteString(KindName, e.Kind);
        json.WriteString(TextName, e.Text);
        if (e.Data is { Count: > 0 })
        {
            json.WritePropertyName(DataName);
            WriteValue(json, e.Data);
        }

        json.WriteEndObject();
    }

    /// <summary>The value shapes events carry, written directly; anything else falls back to the serializer.
    /// Keys in <paramref name="omit"/> are left out of every object (the report drops bulky ones).</summary>
    internal static void WriteValue(Utf8JsonWriter json, object? value, IReadOnlySet<string>? omit = null)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case int i:
                json.WriteNumberValue(i);
                break;
            case long l:
                json.WriteNumberValue(l);
                break;
            case double d:
                json.WriteNumberValue(d);
                break;
            case Dictionary<string, object?> dictionary:
                // The concrete type's struct enumerator: the interface's boxed one was an allocation per event.
                json.WriteStartObject();
                foreach (var (key, item) in dictionary)
                {
                    if (omit is null || !omit.Contains(key))
                    {
                        json.WritePropertyName(key);
                        WriteValue(json, item, omit);
                    }
                }

                json.WriteEndObject();
                break;
            case IReadOnlyDictionary<string, object?> map:
                json.WriteStartObject();
                foreach (var (key, item) in map)
                {
                    if (omit is null || !omit.Contains(key))
                    {
                        json.WritePropertyName(key);
                        WriteValue(json, item, omit);
                    }
                }

                json.WriteEndObject();
                break;
            case IReadOnlyDictionary<string, string> strings:
                json.WriteStartObject();
                foreach (var (key, item) in strings)
                {
                    json.WriteString(key, item);
                }

                json.WriteEndObject();
                break;
            case System.Collections.IEnumerable items:
                json.WriteStartArray();
                foreach (var item in items)
                {
                    WriteValue(json, item, omit);
                }

                json.WriteEndArray();
                break;
            default:
                JsonSerializer.Serialize(json, value, value.GetType(), DataOptions);
                break;
        }
    }

    public void Flush()
    {
        _json.Flush();
        WriteBuffered();
        _buffer.Release();
        _stream.Flush();
    }

    public void Dispose()
    {
        Flush();
        _json.Dispose();
        _stream.Dispose();
    }
}
