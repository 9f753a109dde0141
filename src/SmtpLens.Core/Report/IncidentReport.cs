using System.Text.Json;
using SmtpLens.IO;
using SmtpLens.Transcripts;

namespace SmtpLens.Report;

/// <summary>The sessions of one or more transcripts folders, merged into one timeline for the HTML report.</summary>
internal sealed class IncidentReport
{
    private readonly Dictionary<string, ReportSession> _sessions = new(StringComparer.Ordinal);

    public IncidentReport(IEnumerable<string> sources) => Sources = [.. sources];

    /// <summary>The folders (or files) the sessions came from, as given.</summary>
    public IReadOnlyList<string> Sources { get; }

    /// <summary>Every session, oldest first.</summary>
    public IReadOnlyList<ReportSession> Sessions => [.. _sessions.Values.OrderBy(s => s.Start).ThenBy(s => s.Id, StringComparer.Ordinal)];

    public int Count => _sessions.Count;

    /// <summary>Adds (or replaces) a session; the key is instance and id, so two instances' equal ids stay apart.</summary>
    public void Add(ReportSession session) => _sessions[session.Instance + "/" + session.Id] = session;

    /// <summary>Reads every <c>.jsonl</c> under the folders given (a file stands for itself).</summary>
    /// <exception cref="FileNotFoundException">A source does not exist or holds no transcripts.</exception>
    /// <exception cref="InvalidDataException">A file is not a SmtpLens transcript.</exception>
    public static IncidentReport Load(IReadOnlyList<string> sources)
    {
        var report = new IncidentReport(sources);
        foreach (var source in sources)
        {
            var files = Directory.Exists(source)
                ? Directory.GetFiles(source, "*.jsonl", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList()
                : File.Exists(source) ? [source] : throw new FileNotFoundException($"no such file or directory: {source}");
            if (files.Count == 0)
            {
                throw new FileNotFoundException($"no .jsonl transcripts in {source}");
            }

            foreach (var file in files)
            {
                report.AddFile(file, source);
            }
        }

        return report;
    }

    /// <summary>Adds the sessions of one transcript file; each is labelled with the instance its JSON names,
    /// else with the folder it came from.</summary>
    public void AddFile(string path, string source)
    {
        var fallback = Path.GetFileName(Path.TrimEndingDirectorySeparator(Directory.Exists(source) ? source : Path.GetDirectoryName(Path.GetFullPath(source))!));
        var instance = InstanceOf(path) ?? fallback;
        foreach (var session in JsonLinesTranscriptReader.Read(path).GroupBy(e => e.Session, StringComparer.Ordinal))
        {
            if (ReportSession.FromEvents(session, instance) is { } s)
            {
                Add(s);
            }
        }
    }

    private static string? InstanceOf(string path)
    {
        var line = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        if (line is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.TryGetProperty("instance", out var i) && i.ValueKind == JsonValueKind.String && i.GetString() is { Length: > 0 } name ? name : null;
    }

    /// <summary>Writes the HTML to a temporary file beside <paramref name="path"/>, then renames it over the
    /// old one, so a browser refreshing it never reads half a report.</summary>
    public void WriteAtomically(string path, DateTimeOffset generated)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            // The page holds the sessions' dialogue (redacted, but still mail metadata): owner-only, like the transcripts.
            using (var stream = PrivateFiles.Open(temporary, FileMode.CreateNew, share: FileShare.None, bufferSize: 64 * 1024))
            {
                ReportHtmlWriter.Write(stream, this, generated);
            }

            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
