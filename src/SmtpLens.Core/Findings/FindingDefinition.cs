namespace SmtpLens.Findings;

/// <summary>The fixed part of a finding code: default severity, explanation, causes, next step and an example
/// headline. The findings reference in docs/findings.md documents exactly these.</summary>
internal sealed record FindingDefinition(
    string Code,
    FindingSeverity Severity,
    string Explanation,
    IReadOnlyList<string> Causes,
    string NextStep,
    string Example)
{
    /// <summary>A finding of this code; detectors may lead with causes specific to what they saw.</summary>
    public Finding Create(
        FindingLeg leg,
        string title,
        IReadOnlyList<FindingEvidence> evidence,
        IReadOnlyDictionary<string, object?>? facts = null,
        FindingSeverity? severity = null,
        IEnumerable<string>? leadingCauses = null,
        string? nextStep = null) =>
        new(Code, severity ?? Severity, leg, title, evidence)
        {
            Explanation = Explanation,
            Causes = [.. (leadingCauses ?? []).Concat(Causes).Distinct()],
            NextStep = nextStep ?? NextStep,
            Facts = facts ?? new Dictionary<string, object?>(),
        };
}
