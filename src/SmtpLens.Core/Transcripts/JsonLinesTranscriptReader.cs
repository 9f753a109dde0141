using System.Globalization;
using System.Text.Json;

namespace SmtpLens.Transcripts;

/// <summary>Reads a <c>.jsonl</c> transcript back into events, data included, for offline analysis.</summary>
/// <remarks>Numbers come back as long (or double), objects as dictionaries and arrays as lists: the shapes the
/// finding detectors read through <c>EventFields</c>, so live and saved events give the same findings.</remarks>
internal static class JsonLinesTranscriptReader
{
    /// <summary>All events of the file, in file order.</summary>
    /// <exception cref="InvalidDataException">A line is not a transcript event; the message names the line.</exception>
    public static IReadOnlyList<TranscriptEvent> Read(string path)
    {
        var events = new List<TranscriptEvent>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                events.Add(Parse(line));
            }
            catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                throw new InvalidDataException($"{path}:{number}: not a SmtpLens transcript event ({e.Message})", e);
            }
        }

        return events;
    }

    public static TranscriptEvent Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        var direction = root.GetProperty("dir").GetString() switch
        {
            "C" => Direction.Client,
            "S" => Direction.Server,
            "*" => Direction.Proxy,
            var other => throw new FormatException($"unknown dir \"{other}\""),
        };
        var data = root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? (IReadOnlyDictionary<string, object?>)ToObject(d)! : null;
        return new TranscriptEvent(
            root.GetProperty("session").GetString() ?? string.Empty,
            root.GetProperty("seq").GetInt64(),
            DateTimeOffset.Parse(root.GetProperty("ts").GetString() ?? string.Empty, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
            direction,
            root.GetProperty("kind").GetString() ?? string.Empty,
            root.GetProperty("text").GetString() ?? string.Empty,
            data);
    }

    private static object? ToObject(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => ToObject(p.Value), StringComparer.Ordinal),
        JsonValueKind.Array => e.EnumerateArray().Select(ToObject).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
