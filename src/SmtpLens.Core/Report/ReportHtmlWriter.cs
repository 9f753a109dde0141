using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Report;

/// <summary>Writes the report as one self-contained HTML file: the page (CSS, JS, SVG drawn by the script)
/// from an embedded template, and the sessions as JSON in a <c>&lt;script type="application/json"&gt;</c> block.</summary>
internal static class ReportHtmlWriter
{
    private const string Marker = "__SMTPLENS_REPORT_DATA__";
    private static readonly Lazy<(string Head, string Tail)> Template = new(LoadTemplate);

    // The default encoder escapes '<', '>', '&' and quotes as \uXXXX: transcript text can never close the
    // script block ("</script>") or open a comment, whatever a peer sent.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.Default, Indented = false };

    // Kept out of the page: long lists nobody reads in a report (they stay in the transcript).
    private static readonly HashSet<string> Omitted = new(StringComparer.Ordinal) { "signatureAlgorithms", "extensions", "ja3" };

    public static void Write(Stream stream, IncidentReport report, DateTimeOffset generated)
    {
        var (head, tail) = Template.Value;
        using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        writer.Write(head);
        writer.Flush();
        using (var json = new Utf8JsonWriter(stream, JsonOptions))
        {
            WriteData(json, report, generated);
        }

        writer.Write(tail);
    }

    /// <summary>The report's data alone, as the page reads it.</summary>
    public static void WriteData(Utf8JsonWriter json, IncidentReport report, DateTimeOffset generated)
    {
        var sessions = report.Sessions;
        json.WriteStartObject();
        json.WriteString("generated", generated.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
        json.WriteStartArray("sources");
        foreach (var s in report.Sources)
        {
            json.WriteStringValue(s);
        }

        json.WriteEndArray();
        json.WriteStartObject("catalog");
        foreach (var f in sessions.SelectMany(s => s.Findings).DistinctBy(f => f.Code))
        {
            json.WriteStartObject(f.Code);
            json.WriteString("explanation", f.Explanation);
            json.WriteStartArray("causes");
            foreach (var c in f.Causes)
            {
                json.WriteStringValue(c);
            }

            json.WriteEndArray();
            json.WriteString("nextStep", f.NextStep);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteStartArray("sessions");
        foreach (var s in sessions)
        {
            WriteSession(json, s);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteSession(Utf8JsonWriter json, ReportSession s)
    {
        json.WriteStartObject();
        json.WriteString("id", s.Id);
        json.WriteString("inst", s.Instance);
        json.WriteNumber("t", s.Start.ToUnixTimeMilliseconds());
        json.WriteNumber("dur", s.DurationMs);
        json.WriteString("client", s.Client);
        json.WriteString("up", s.Upstream);
        json.WriteString("lsn", s.Listener);
        json.WriteString("out", SessionOutcomes.Name(s.Outcome));
        json.WriteString("end", s.End);
        json.WriteString("endDetail", s.EndDetail);
        json.WriteNumber("tx", s.Transactions);
        json.WriteStartArray("tls");
        foreach (var l in s.Tls)
        {
            json.WriteStartObject();
            json.WriteString("leg", l.Leg);
            json.WriteString("ver", l.Completed ? l.Version : "failed");
            json.WriteString("suite", l.Suite);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("f");
        foreach (var f in s.Findings)
        {
            json.WriteStartObject();
            json.WriteString("code", f.Code);
            json.WriteString("sev", Finding.SeverityName(f.Severity));
            json.WriteString("leg", Finding.LegName(f.Leg));
            json.WriteString("title", f.Title);
            json.WriteStartArray("ev");
            foreach (var e in f.Evidence)
            {
                json.WriteNumberValue(e.Seq);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("pol");
        foreach (var v in s.Policies)
        {
            json.WriteStartArray();
            json.WriteStringValue(v.Policy);
            json.WriteStringValue(v.Verdict);
            json.WriteStringValue(v.Reason);
            json.WriteBooleanValue(v.Sender);
            json.WriteEndArray();
        }

        json.WriteEndArray();
        json.WriteStartArray("legs");
        foreach (var r in s.TlsRecords)
        {
            JsonLinesTranscriptFormat.WriteValue(json, r, Omitted);
        }

        json.WriteEndArray();
        json.WriteStartArray("steps");
        foreach (var step in s.Ladder)
        {
            json.WriteStartArray();
            json.WriteNumberValue(step.Seq);
            json.WriteNumberValue(step.OffsetMs);
            json.WriteStringValue(LadderStep.KindName(step.Kind));
            json.WriteStringValue(step.Text);
            json.WriteStringValue(step.Leg);
            json.WriteNumberValue(step.Group);
            json.WriteStartArray();
            foreach (var d in step.Detail)
            {
                json.WriteStringValue(d);
            }

            json.WriteEndArray();
            json.WriteEndArray();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static (string Head, string Tail) LoadTemplate()
    {
        using var stream = typeof(ReportHtmlWriter).Assembly.GetManifestResourceStream("SmtpLens.Report.report.html")
            ?? throw new InvalidOperationException("the report template is missing from the assembly");
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        var at = text.IndexOf(Marker, StringComparison.Ordinal);
        return (text[..at], text[(at + Marker.Length)..]);
    }
}
