using System.Text.Json;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>The one-line JSON form of a finding, shared by <c>--findings FILE</c> and <c>analyze --json</c>:
/// ts, instance (live only), session, then the finding's own fields (code, severity, leg, title, evidence,
/// explanation, causes, nextStep, facts).</summary>
internal static class FindingJson
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false, Encoder = JsonLinesTranscriptFormat.Encoder };

    public static void Write(Utf8JsonWriter json, Finding finding, string? instance)
    {
        json.WriteStartObject();
        json.WriteString("ts", TranscriptEvent.FormatTimestamp(finding.At));
        if (instance is not null)
        {
            json.WriteString("instance", instance);
        }

        json.WriteString("session", finding.Session);
        foreach (var (key, value) in finding.ToData())
        {
            if (key != "at")
            {
                json.WritePropertyName(key);
                JsonSerializer.Serialize(json, value, value?.GetType() ?? typeof(object), Options);
            }
        }

        json.WriteEndObject();
    }

    public static string ToLine(Finding finding, string? instance = null)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JsonLinesTranscriptFormat.Encoder }))
        {
            Write(json, finding, instance);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
