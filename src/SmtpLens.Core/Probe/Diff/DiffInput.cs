using System.Text.Json;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe.Diff;

/// <summary>Reads what <c>diff</c> compares: <c>smtplens probe --json</c> output or a <c>.jsonl</c> transcript.</summary>
internal static class DiffInput
{
    /// <param name="spec">A path, optionally with <c>#N</c> to pick the Nth host (1-based) of a probe with several.</param>
    public static DialogueSnapshot Load(string spec)
    {
        var (path, index) = Split(spec);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file");
        }

        var text = File.ReadAllText(path);
        var firstLine = text.TrimStart().Split('\n', 2)[0].Trim();
        if (LooksLikeEvent(firstLine))
        {
            var events = JsonLinesTranscriptReader.Read(path);
            return DialogueSnapshot.FromEvents(Path.GetFileName(path), events);
        }

        try
        {
            using var doc = JsonDocument.Parse(text);
            if (!doc.RootElement.TryGetProperty("hosts", out var hosts) || hosts.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{path}: neither 'smtplens probe --json' output nor a .jsonl transcript");
            }

            var count = hosts.GetArrayLength();
            if (index < 1 || index > count)
            {
                throw new InvalidDataException($"{path}: has {count} probed host(s); #{index} does not exist");
            }

            var host = hosts[index - 1];
            var events = host.GetProperty("events").EnumerateArray().Select(e => JsonLinesTranscriptReader.Parse(e.GetRawText())).ToList();
            // Version 2 probes each address of an MX host: its label names the address ("mx1.example.com[192.0.2.1]").
            var target = host.TryGetProperty("address", out var a) && a.ValueKind == JsonValueKind.String && host.TryGetProperty("label", out var l) ? l.GetString()
                : host.TryGetProperty("target", out var t) ? t.GetString() : null;
            return DialogueSnapshot.FromEvents($"{Path.GetFileName(path)}{(count > 1 ? $"#{index}" : string.Empty)}{(target is null ? string.Empty : $" ({target})")}", events);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not JSON ({e.Message})", e);
        }
    }

    private static bool LooksLikeEvent(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("kind", out _) && doc.RootElement.TryGetProperty("seq", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static (string Path, int Index) Split(string spec)
    {
        var hash = spec.LastIndexOf('#');
        return hash > 0 && int.TryParse(spec[(hash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? (spec[..hash], n)
            : (spec, 1);
    }
}
