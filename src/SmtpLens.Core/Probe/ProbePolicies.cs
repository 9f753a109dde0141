using SmtpLens.Findings;
using SmtpLens.Policy;

namespace SmtpLens.Probe;

/// <summary>The sending-policy verdicts for the hosts (and, with <c>--mx</c>, each address) <c>probe</c> connected to;
/// <see cref="MxComparison"/> compares them.</summary>
internal static class ProbePolicies
{
    public static UpstreamObservation Observe(HostProbe host, PolicySettings settings, string? domain, bool implicitTls)
    {
        var main = host.Main;
        var mxHost = settings.MxHost ?? host.MxName ?? host.Target.Host;
        var announced = new List<(string, string)>();
        if (main.Banner is { RawLines.Count: > 0 } banner && banner.RawLines[0].Length > 4 && banner.RawLines[0][4..].Split(' ', 2)[0] is var name && CertificateDetector.IsDnsName(name))
        {
            announced.Add((name, "banner"));
        }

        if (main.EhloBeforeTls?.Domain is { } ehlo && CertificateDetector.IsDnsName(ehlo))
        {
            announced.Add((ehlo, "EHLO reply"));
        }

        var address = main.RemoteEndPoint is { } remote && System.Net.IPEndPoint.TryParse(remote, out var ep) ? ep.Address.ToString() : null;
        return UpstreamObservation.From(main.Tls, mxHost, settings.NextHop ?? domain ?? mxHost, address, implicitTls, main.StartTlsOffered, announced) with { Revocation = Revocation(main) };
    }

    /// <summary>--check-revocation's results, which the probe waits for before it ends the session; null when it did not run.</summary>
    private static RevocationObservation? Revocation(ProbeSession main)
    {
        var checks = main.Events
            .Where(e => e.Kind == Tls.Revocation.CertificateRevocation.EventKind)
            .Select(e => Tls.Revocation.CertificateRevocation.FromData(e.Data))
            .OfType<Tls.Revocation.CertificateRevocation>()
            .ToList();
        return checks.Count == 0 ? null : RevocationObservation.FromChecks(checks, settled: true, TimeSpan.Zero);
    }

    /// <summary>Every answering host with its verdicts; DANE's DNS lookups are made once per MX host, not per address.</summary>
    public static async Task<IReadOnlyList<HostProbe>> EvaluateAllAsync(IReadOnlyList<HostProbe> hosts, PolicySettings settings, PolicyLookups? lookups, string? domain, bool implicitTls, TimeProvider time, CancellationToken cancellationToken)
    {
        var dane = new Dictionary<(string, int), DaneLookup>();
        var result = new List<HostProbe>(hosts.Count);
        foreach (var host in hosts)
        {
            if (host.Main.Banner is null)
            {
                result.Add(host);
                continue;
            }

            var observation = Observe(host, settings, domain, implicitTls);
            DaneLookup? daneLookup = null;
            MtaStsLookup? sts = null;
            if (settings.Lookups && lookups is not null)
            {
                var key = (observation.MxHost.ToLowerInvariant(), host.Target.Port);
                if (!dane.TryGetValue(key, out daneLookup))
                {
                    daneLookup = dane[key] = await lookups.DaneAsync(observation.MxHost, host.Target.Port, cancellationToken);
                }

                sts = await lookups.MtaStsAsync(observation.NextHop, cancellationToken);
            }

            result.Add(host with { Verdicts = PolicyEvaluator.Evaluate(observation, settings, daneLookup, sts, time.GetUtcNow()) });
        }

        return result;
    }
}
