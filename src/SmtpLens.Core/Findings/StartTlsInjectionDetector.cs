using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>STARTTLS_INJECTION: the relay's starttls-injection anomaly (plaintext pipelined after STARTTLS).</summary>
internal sealed class StartTlsInjectionDetector : IFindingDetector
{
    private const string Marker = "not forwarded: ";

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind != EventKinds.Anomaly || EventFields.Text(e.Data, "anomaly") != "starttls-injection")
        {
            return;
        }

        var bytes = EventFields.Long(e.Data, "bytes");
        var at = e.Text.IndexOf(Marker, StringComparison.Ordinal);
        var literal = at < 0 ? null : e.Text[(at + Marker.Length)..];
        if (literal is { Length: > 120 })
        {
            literal = literal[..120] + "...";
        }

        IReadOnlyList<FindingEvidence> evidence = view.StartTlsCommand is { } command ? [FindingEvidence.Of(command), FindingEvidence.Of(e)] : [FindingEvidence.Of(e)];
        found.Add(FindingCatalog.StartTlsInjection.Create(
            FindingLeg.Client,
            $"the client sent {(bytes is { } n ? $"{n} bytes of " : string.Empty)}plaintext after STARTTLS{(literal is null ? string.Empty : ": " + literal)}",
            evidence,
            new Dictionary<string, object?> { ["bytes"] = bytes }));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }
}
