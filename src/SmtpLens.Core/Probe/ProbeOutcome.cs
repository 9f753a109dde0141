using SmtpLens.Findings;

namespace SmtpLens.Probe;

/// <summary>What a whole probe run comes to: the findings that count, and the exit code.</summary>
/// <remarks>Findings of the restricted-offer connections do not count: a refused TLS 1.0 offer is the answer
/// the admin asked for, not a fault.</remarks>
internal static class ProbeOutcome
{
    public const int Clean = 0;
    public const int Findings = 1;
    public const int Failed = 2;

    public static IReadOnlyList<Finding> Counted(IEnumerable<HostProbe> hosts) => [.. hosts.SelectMany(h => h.Main.Findings)];

    public static int ExitCode(IReadOnlyList<HostProbe> hosts) => ExitCode(hosts, Counted(hosts));

    /// <param name="counted">The hosts' findings plus any the run raised over all of them (MX_TLS_INCONSISTENT).</param>
    public static int ExitCode(IReadOnlyList<HostProbe> hosts, IReadOnlyList<Finding> counted) =>
        hosts.Any(h => h.Main.Error is not null) ? Failed
        : counted.Any(f => f.Severity >= FindingSeverity.Warning) ? Findings
        : Clean;

    public static string Tally(IEnumerable<Finding> findings)
    {
        var list = findings.ToList();
        if (list.Count == 0)
        {
            return "no findings";
        }

        return string.Join(", ", new[] { FindingSeverity.Error, FindingSeverity.Warning, FindingSeverity.Info }
            .Select(s => (Severity: s, Count: list.Count(f => f.Severity == s)))
            .Where(p => p.Count > 0)
            .Select(p => $"{p.Count} {Finding.SeverityName(p.Severity)}{(p.Count == 1 ? string.Empty : "s")}"));
    }
}
