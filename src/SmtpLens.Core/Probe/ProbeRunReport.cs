using System.Globalization;
using System.Text;
using SmtpLens.Policy;

namespace SmtpLens.Probe;

/// <summary>The text report of a whole run: the MX lookup and addresses, each probed address in full with its policy
/// verdicts, then (with <c>--mx</c>) a summary per MX host and address and the comparison across the domain.</summary>
internal static class ProbeRunReport
{
    public static string Write(ProbeRun run)
    {
        var report = new StringBuilder();
        if (run.Lookup is { } lookup)
        {
            report.Append(CultureInfo.InvariantCulture, $"MX {lookup.Domain} (asked {lookup.Server}): {(lookup.Implicit ? "no MX records; mail goes to the domain itself (RFC 5321 5.1)" : string.Join(", ", lookup.Hosts.Select(h => $"{h.Preference} {h.Exchange}")))}\n");
            foreach (var resolved in run.Resolved)
            {
                var skipped = resolved.Addresses.Count - run.MaxAddresses;
                report.Append(CultureInfo.InvariantCulture, $"  {resolved.Host}: {resolved.Describe()}{(skipped > 0 ? $"; {skipped} more not probed (--max-addresses {run.MaxAddresses})" : string.Empty)}\n");
            }

            report.Append('\n');
        }

        var shown = 0;
        foreach (var h in run.Hosts)
        {
            // Nothing was said: the one error line on stderr is the whole story.
            if (h.Main.Banner is null && h.Main.Tls is null)
            {
                continue;
            }

            ProbeTextReport.WriteHost(report, h);
            foreach (var verdict in h.Verdicts)
            {
                report.Append(CultureInfo.InvariantCulture, $"  {verdict.Line()}\n");
            }

            report.Append('\n');
            shown++;
        }

        if (shown == 0)
        {
            return report.ToString();
        }

        if (run.Lookup is not null)
        {
            Summary(report, run);
        }

        if (run.Comparison is { } comparison)
        {
            Comparison(report, comparison);
        }

        var exit = run.ExitCode;
        report.Append(CultureInfo.InvariantCulture, $"result: {ProbeOutcome.Tally(run.Counted)}; exit {exit}{exit switch { 0 => " (nothing of warning or above)", 1 => " (warning or above found)", _ => " (could not complete: see the error line)" }}\n");
        return report.ToString();
    }

    /// <summary>Per MX host: one compact line per address, then one line per policy saying where it passes and fails.</summary>
    private static void Summary(StringBuilder report, ProbeRun run)
    {
        report.Append("MX hosts, per address:\n");
        foreach (var group in run.Hosts.GroupBy(h => h.MxName ?? h.Target.Host, StringComparer.OrdinalIgnoreCase))
        {
            var probes = group.ToList();
            report.Append(CultureInfo.InvariantCulture, $"  {group.Key}\n");
            var width = probes.Max(p => Where(p).Length) + 2;
            foreach (var p in probes)
            {
                report.Append("    ").Append(Where(p).PadRight(width)).Append(MxComparison.Compact(p, run.ImplicitTls)).Append('\n');
            }

            var policies = probes.SelectMany(p => p.Verdicts.Select(v => v.Policy)).Distinct(StringComparer.Ordinal).ToList();
            var policyWidth = policies.Count == 0 ? 0 : policies.Max(p => p.Length) + 2;
            foreach (var policy in policies)
            {
                var verdicts = probes.Where(p => p.Verdicts.Any(v => v.Policy == policy)).Select(p => (Probe: p, Verdict: p.Verdicts.First(v => v.Policy == policy))).ToList();
                var byVerdict = verdicts.GroupBy(v => v.Verdict.Verdict).OrderBy(g => g.Key == Verdict.Fail ? 0 : 1).ToList();
                var text = byVerdict.Count == 1
                    ? $"{byVerdict[0].First().Verdict.VerdictName.ToUpperInvariant()} at {(verdicts.Count == 1 ? Where(verdicts[0].Probe) : $"every address ({verdicts.Count})")}: {byVerdict[0].First().Verdict.Reason}"
                    : "DIFFERS: " + string.Join("; ", byVerdict.Select(g => $"{g.First().Verdict.VerdictName.ToUpperInvariant()} at {string.Join(", ", g.Select(v => Where(v.Probe)))}: {g.First().Verdict.Reason}"));
                report.Append("    policy ").Append(policy.PadRight(policyWidth)).Append(text).Append('\n');
            }
        }

        report.Append('\n');
    }

    private static void Comparison(StringBuilder report, MxComparison comparison)
    {
        if (comparison.Answered < 2)
        {
            return;
        }

        report.Append(CultureInfo.InvariantCulture, $"MX comparison ({comparison.Domain}: {comparison.Answered} addresses of {comparison.Hosts} host{(comparison.Hosts == 1 ? string.Empty : "s")} answered):\n");
        var width = comparison.Aspects.Max(a => a.Name.Length) + 2;
        foreach (var aspect in comparison.Aspects)
        {
            var text = !aspect.Differs
                ? $"same at every address: {aspect.Groups[0].Value}"
                : $"DIFFERS{(aspect.WithinHost ? " within a host" : aspect.Decisive ? string.Empty : " between hosts (no sender decides on this alone)")}: {string.Join("; ", aspect.Groups.Select(g => $"{g.Value} at {string.Join(", ", g.Addresses)}"))}";
            report.Append("  ").Append(aspect.Name.PadRight(width)).Append(text).Append('\n');
        }

        foreach (var missing in comparison.NotReached)
        {
            report.Append("  not reached: ").Append(missing).Append('\n');
        }

        if (comparison.Finding is { } finding)
        {
            report.Append(CultureInfo.InvariantCulture, $"findings over all MX addresses ({ProbeOutcome.Tally([finding])}):\n");
            FindingText.Write(report, [finding]);
        }
        else
        {
            report.Append("findings over all MX addresses: none (every address offers the same TLS)\n");
        }

        report.Append('\n');
    }

    private static string Where(HostProbe p) => p.Address is { } a ? $"{(a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{a}]" : a.ToString())}:{p.Target.Port}" : p.Target.ToString();
}
