using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>STARTTLS_INJECTION: the starttls-injection anomaly, plaintext buffered after STARTTLS on either leg.</summary>
internal sealed class StartTlsInjectionDetector : IFindingDetector
{
    private const string Marker = "discarded";

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind != EventKinds.Anomaly || EventFields.Text(e.Data, "anomaly") != "starttls-injection")
        {
            return;
        }

        var bytes = EventFields.Long(e.Data, "bytes");
        // "...; discarded, not forwarded: <bytes>" from the relay, "...; discarded: <bytes>" from the probe.
        var at = e.Text.IndexOf(Marker, StringComparison.Ordinal);
        var colon = at < 0 ? -1 : e.Text.IndexOf(": ", at, StringComparison.Ordinal);
        var literal = colon < 0 ? null : e.Text[(colon + 2)..];
        if (literal is { Length: > 120 })
        {
            literal = literal[..120] + "...";
        }

        IReadOnlyList<FindingEvidence> evidence = view.StartTlsCommand is { } command ? [FindingEvidence.Of(command), FindingEvidence.Of(e)] : [FindingEvidence.Of(e)];
        var upstream = EventFields.Text(e.Data, "leg") == "upstream";
        var amount = bytes is { } n ? $"{n} bytes of " : string.Empty;
        found.Add(FindingCatalog.StartTlsInjection.Create(
            upstream ? FindingLeg.Upstream : FindingLeg.Client,
            $"{(upstream ? $"the upstream sent {amount}plaintext after its 220 to STARTTLS" : $"the client sent {amount}plaintext after STARTTLS")}{(literal is null ? string.Empty : ": " + literal)}",
            evidence,
            new Dictionary<string, object?> { ["bytes"] = bytes }));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
