using System.Globalization;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>What a detector concluded from a session: a stable code, how bad, which leg, the lines it rests on,
/// and what an admin should suspect and do next.</summary>
internal sealed record Finding(string Code, FindingSeverity Severity, FindingLeg Leg, string Title, IReadOnlyList<FindingEvidence> Evidence)
{
    /// <summary>The session the evidence comes from.</summary>
    public string Session { get; init; } = string.Empty;

    /// <summary>When it arose: the timestamp of the event that raised it (the same live and offline).</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>Why it matters, in a sentence or two.</summary>
    public string Explanation { get; init; } = string.Empty;

    /// <summary>Likely causes, most likely first.</summary>
    public IReadOnlyList<string> Causes { get; init; } = [];

    public string NextStep { get; init; } = string.Empty;

    /// <summary>Structured specifics (alert, version, suite, likely original keyword...), for JSON consumers.</summary>
    public IReadOnlyDictionary<string, object?> Facts { get; init; } = new Dictionary<string, object?>();

    public static string SeverityName(FindingSeverity severity) => severity switch
    {
        FindingSeverity.Info => "info",
        FindingSeverity.Warning => "warning",
        _ => "error",
    };

    public static string LegName(FindingLeg leg) => leg == FindingLeg.Client ? "client" : "upstream";

    /// <summary>Code, severity, leg, title and evidence numbers: what must agree between a live run and <c>analyze</c>.</summary>
    public string Signature => $"{Code}|{SeverityName(Severity)}|{LegName(Leg)}|{Title}|{string.Join(",", Evidence.Select(e => e.Seq.ToString(CultureInfo.InvariantCulture)))}";

    /// <summary>The one-line form used as the transcript text of a <c>finding</c> event.</summary>
    public string Headline => $"finding {SeverityName(Severity).ToUpperInvariant()} {Code} ({LegName(Leg)} leg): {Title}";

    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["code"] = Code,
        ["severity"] = SeverityName(Severity),
        ["leg"] = LegName(Leg),
        ["title"] = Title,
        ["evidence"] = Evidence.Select(e => e.ToData()).ToList(),
        ["explanation"] = Explanation,
        ["causes"] = Causes,
        ["nextStep"] = NextStep,
        ["facts"] = Facts,
        ["at"] = Transcripts.TranscriptEvent.FormatTimestamp(At),
    };

    /// <summary>Rebuilds a finding from the data of a <c>finding</c> event (live object or parsed JSON).</summary>
    public static Finding? FromData(string session, IReadOnlyDictionary<string, object?>? data)
    {
        if (EventFields.Text(data, "code") is not { } code || EventFields.Text(data, "title") is not { } title)
        {
            return null;
        }

        var severity = EventFields.Text(data, "severity") switch
        {
            "info" => FindingSeverity.Info,
            "warning" => FindingSeverity.Warning,
            _ => FindingSeverity.Error,
        };
        var leg = EventFields.Text(data, "leg") == "client" ? FindingLeg.Client : FindingLeg.Upstream;
        var evidence = EventFields.Maps(data, "evidence")
            .Select(m => new FindingEvidence(EventFields.Long(m, "seq") ?? 0, EventFields.Text(m, "kind") ?? string.Empty, EventFields.Text(m, "text") ?? string.Empty))
            .ToList();
        return new Finding(code, severity, leg, title, evidence)
        {
            Session = session,
            At = DateTimeOffset.TryParse(EventFields.Text(data, "at"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : default,
            Explanation = EventFields.Text(data, "explanation") ?? string.Empty,
            Causes = [.. EventFields.Texts(data, "causes")],
            NextStep = EventFields.Text(data, "nextStep") ?? string.Empty,
            Facts = EventFields.Map(data, "facts") ?? new Dictionary<string, object?>(),
        };
    }

    /// <summary>The multi-line form <c>smtplens analyze</c> prints.</summary>
    public IReadOnlyList<string> Describe()
    {
        var lines = new List<string> { $"{SeverityName(Severity).ToUpperInvariant()} {Code} ({LegName(Leg)} leg) session {Session}", $"  {Title}" };
        lines.AddRange(Evidence.Select(e => $"  evidence #{e.Seq}: {e.Text}"));
        if (Explanation.Length > 0)
        {
            lines.Add($"  why it matters: {Explanation}");
        }

        if (Causes.Count > 0)
        {
            lines.Add("  likely causes:");
            lines.AddRange(Causes.Select(c => $"    - {c}"));
        }

        if (NextStep.Length > 0)
        {
            lines.Add($"  next step: {NextStep}");
        }

        return lines;
    }
}
