using System.Text;
using System.Text.Json;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe.Diff;

/// <summary>The diff side by side for people, and as JSON.</summary>
internal static class DiffReport
{
    private static readonly JsonSerializerOptions DataOptions = new() { Encoder = JsonLinesTranscriptFormat.Encoder };

    public static string Text(DiffResult diff)
    {
        var text = new StringBuilder();
        text.Append("A = ").Append(Describe(diff.A)).Append('\n');
        text.Append("B = ").Append(Describe(diff.B)).Append("\n\n");
        text.Append("banner").Append(diff.BannerDiffers ? diff.BannerMaskedInB ? "  (masked in B)" : "  (differs)" : "  (same)").Append('\n');
        text.Append("  A  ").Append(ProbeDiff.BannerText(diff.A)).Append('\n');
        text.Append("  B  ").Append(ProbeDiff.BannerText(diff.B)).Append("\n\n");
        Table(text, diff.KeywordsInTls.Count > 0 ? "EHLO keywords (plaintext)" : "EHLO keywords", diff.Keywords);
        if (diff.KeywordsInTls.Count > 0)
        {
            text.Append('\n');
            Table(text, "EHLO keywords (inside TLS)", diff.KeywordsInTls);
        }

        text.Append("\nTLS\n");
        Tls(text, "A", diff.A.Tls);
        Tls(text, "B", diff.B.Tls);
        text.Append('\n');
        text.Append(diff.Findings.Count == 0 ? "findings: none (B offers every keyword A does)\n" : $"findings ({ProbeOutcome.Tally(diff.Findings)}):\n");
        FindingText.Write(text, diff.Findings);
        text.Append($"\nresult: {ProbeOutcome.Tally(diff.Findings)}; exit {diff.ExitCode}\n");
        return text.ToString();
    }

    private static string Describe(DialogueSnapshot s) =>
        $"{s.Label}, session {s.Session}{(s.Upstream is null ? string.Empty : $", server {s.Upstream}")}{(s.EhloDomain is null ? string.Empty : $", EHLO name {s.EhloDomain}")}";

    private static void Table(StringBuilder text, string title, IReadOnlyList<KeywordRow> rows)
    {
        var width = Math.Max(16, rows.Select(r => Math.Max(r.A?.Shown.Length ?? 1, r.B?.Shown.Length ?? 1)).DefaultIfEmpty(0).Max() + 2);
        text.Append(title).Append('\n');
        text.Append("  ").Append("A".PadRight(width)).Append("B\n");
        if (rows.Count == 0)
        {
            text.Append("  (no EHLO keywords on either side)\n");
        }

        foreach (var row in rows)
        {
            var mark = row.Change switch
            {
                KeywordChange.Same => string.Empty,
                KeywordChange.ParametersDiffer => "parameters differ",
                KeywordChange.Removed => "REMOVED in B",
                KeywordChange.Masked => "MASKED in B",
                _ => "added in B",
            };
            text.Append(("  " + (row.A?.Shown ?? "-").PadRight(width) + (row.B?.Shown ?? "-").PadRight(width) + mark).TrimEnd()).Append('\n');
        }
    }

    private static void Tls(StringBuilder text, string side, IReadOnlyDictionary<string, object?>? tls)
    {
        if (tls is null)
        {
            text.Append("  ").Append(side).Append("  no TLS\n");
            return;
        }

        if (EventFields.Bool(tls, "completed") != true)
        {
            text.Append("  ").Append(side).Append("  handshake FAILED: ").Append(EventFields.Text(tls, "failure") ?? "?").Append('\n');
            return;
        }

        text.Append("  ").Append(side).Append("  ").Append(EventFields.Text(tls, "version")).Append(' ').Append(EventFields.Text(tls, "cipherSuite")).Append('\n');
        if (EventFields.Maps(tls, "serverCertificates").FirstOrDefault() is { } leaf)
        {
            text.Append("     certificate CN=").Append(EventFields.Text(leaf, "cn") ?? "(none)")
                .Append(" SAN=[").Append(string.Join(", ", EventFields.Texts(leaf, "san"))).Append("] issuer \"").Append(EventFields.Text(leaf, "issuer"))
                .Append("\" notAfter ").Append(EventFields.Text(leaf, "notAfter")).Append('\n');
            var sha = EventFields.Text(leaf, "sha256") ?? string.Empty;
            text.Append("     sha256 ").Append(sha).Append('\n');
        }

        var trusted = EventFields.Bool(tls, "chainTrusted");
        var name = EventFields.Text(tls, "nameChecked");
        text.Append("     chain ").Append(trusted == true ? "trusted" : trusted == false ? "NOT trusted" : "not checked")
            .Append(name is null ? string.Empty : $"; name {name} {(EventFields.Bool(tls, "nameMatches") == true ? "matches" : "does NOT match")}").Append('\n');
    }

    public static void Json(Utf8JsonWriter json, DiffResult diff)
    {
        json.WriteStartObject();
        json.WriteNumber("smtplensDiff", 1);
        Side(json, "a", diff.A);
        Side(json, "b", diff.B);
        json.WriteBoolean("bannerDiffers", diff.BannerDiffers);
        json.WriteBoolean("bannerMaskedInB", diff.BannerMaskedInB);
        Rows(json, "keywords", diff.Keywords);
        Rows(json, "keywordsInTls", diff.KeywordsInTls);
        json.WriteStartArray("findings");
        foreach (var f in diff.Findings)
        {
            JsonSerializer.Serialize(json, new Dictionary<string, object?>(f.ToData()) { ["session"] = f.Session }, DataOptions);
        }

        json.WriteEndArray();
        json.WriteNumber("exitCode", diff.ExitCode);
        json.WriteEndObject();
    }

    private static void Side(Utf8JsonWriter json, string name, DialogueSnapshot s)
    {
        json.WriteStartObject(name);
        json.WriteString("label", s.Label);
        json.WriteString("session", s.Session);
        json.WriteString("upstream", s.Upstream);
        json.WriteStartArray("banner");
        foreach (var line in s.Banner)
        {
            json.WriteStringValue(line.Text);
        }

        json.WriteEndArray();
        json.WriteString("ehloDomain", s.EhloDomain);
        json.WritePropertyName("tls");
        if (s.Tls is null)
        {
            json.WriteNullValue();
        }
        else
        {
            JsonSerializer.Serialize(json, s.Tls, DataOptions);
        }

        json.WriteEndObject();
    }

    private static void Rows(Utf8JsonWriter json, string name, IReadOnlyList<KeywordRow> rows)
    {
        json.WriteStartArray(name);
        foreach (var row in rows)
        {
            json.WriteStartObject();
            json.WriteString("keyword", row.Keyword);
            json.WriteString("a", row.A?.Shown);
            json.WriteString("b", row.B?.Shown);
            json.WriteString("change", row.Change switch
            {
                KeywordChange.Same => "same",
                KeywordChange.ParametersDiffer => "parameters-differ",
                KeywordChange.Removed => "removed",
                KeywordChange.Masked => "masked",
                _ => "added",
            });
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }
}
