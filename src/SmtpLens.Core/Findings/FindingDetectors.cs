namespace SmtpLens.Findings;

/// <summary>A fresh set of every detector, for one session (detectors keep per-session state).</summary>
internal static class FindingDetectors
{
    public static IReadOnlyList<IFindingDetector> Create() =>
    [
        new EhloOfferDetector(),
    ];
}
