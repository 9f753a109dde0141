using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>SMTP_SMUGGLING: message content with a dot line after bare LF/CR (the dialogue's content anomalies).</summary>
internal sealed class SmugglingDetector : IFindingDetector
{
    private TranscriptEvent? _lastMessage;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind == EventKinds.Message)
        {
            _lastMessage = e;
            return;
        }

        if (e.Kind != EventKinds.Anomaly || EventFields.Text(e.Data, "anomaly") != "smuggling-pattern")
        {
            return;
        }

        var flags = EventFields.Text(_lastMessage?.Data, "contentAnomalies") ?? string.Empty;
        var patterns = new List<string>();
        if (flags.Contains("BareLfDot", StringComparison.Ordinal))
        {
            patterns.Add("<LF>.<LF> or <LF>.<CR><LF>");
        }

        if (flags.Contains("BareCrDot", StringComparison.Ordinal))
        {
            patterns.Add("<CR>.<CR>");
        }

        if (flags.Contains("HalfTerminator", StringComparison.Ordinal))
        {
            patterns.Add("<CR><LF>.<LF> or <CR><LF>.<CR> without the final LF");
        }

        var number = EventFields.Long(_lastMessage?.Data, "message");
        IReadOnlyList<FindingEvidence> evidence = _lastMessage is null ? [FindingEvidence.Of(e)] : [FindingEvidence.Of(_lastMessage), FindingEvidence.Of(e)];
        found.Add(FindingCatalog.SmtpSmuggling.Create(
            FindingLeg.Client,
            $"message {number?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} has an ambiguous end-of-data pattern: {(patterns.Count == 0 ? flags : string.Join("; ", patterns))}",
            evidence,
            new Dictionary<string, object?> { ["contentAnomalies"] = flags, ["patterns"] = patterns }));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
