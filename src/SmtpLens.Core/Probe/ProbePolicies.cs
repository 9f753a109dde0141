using SmtpLens.Findings;
using SmtpLens.Policy;

namespace SmtpLens.Probe;

/// <summary>The sending-policy verdicts for the hosts <c>probe</c> connected to, and what differs between a domain's
/// MX hosts (intermittent STARTTLS, different certificates: a classic incident, since a sender picks any of them).</summary>
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

    public static async Task<IReadOnlyList<PolicyVerdict>> EvaluateAsync(HostProbe host, PolicySettings settings, PolicyLookups? lookups, string? domain, bool implicitTls, TimeProvider time, CancellationToken cancellationToken)
    {
        var observation = Observe(host, settings, domain, implicitTls);
        DaneLookup? dane = null;
        MtaStsLookup? sts = null;
        if (settings.Lookups && lookups is not null)
        {
            dane = await lookups.DaneAsync(observation.MxHost, host.Target.Port, cancellationToken);
            sts = await lookups.MtaStsAsync(observation.NextHop, cancellationToken);
        }

        return PolicyEvaluator.Evaluate(observation, settings, dane, sts, time.GetUtcNow());
    }

    /// <summary>Lines comparing the MX hosts: who offers STARTTLS, who presents which certificate, who demands TLS.</summary>
    public static IReadOnlyList<string> Compare(IReadOnlyList<HostProbe> hosts)
    {
        var answered = hosts.Where(h => h.Main.Banner is not null).ToList();
        if (answered.Count < 2)
        {
            return [];
        }

        var lines = new List<string>();
        var offering = answered.Where(h => h.Main.StartTlsOffered).Select(Name).ToList();
        var notOffering = answered.Where(h => !h.Main.StartTlsOffered).Select(Name).ToList();
        lines.Add(offering.Count > 0 && notOffering.Count > 0
            ? $"INTERMITTENT STARTTLS: offered by {string.Join(", ", offering)}, NOT by {string.Join(", ", notOffering)}: a sender that requires TLS queues whenever it picks one of the latter"
            : $"STARTTLS: {(offering.Count > 0 ? "offered by every MX host" : "offered by no MX host")}");

        var certificates = answered.Select(h => (Name: Name(h), Cert: h.Main.Tls?.ServerCertificates.FirstOrDefault())).ToList();
        var withCert = certificates.Where(c => c.Cert is not null).ToList();
        var distinct = withCert.Select(c => c.Cert!.Sha256Fingerprint).Distinct(StringComparer.Ordinal).Count();
        if (withCert.Count > 0 && (withCert.Count < certificates.Count || distinct > 1))
        {
            lines.Add($"certificates differ between MX hosts: {string.Join("; ", certificates.Select(c => $"{c.Name} {(c.Cert is null ? "none" : $"CN={c.Cert.CommonName} expires {c.Cert.NotAfter:yyyy-MM-dd} sha256 {c.Cert.Sha256Fingerprint[..16]}")}"))}");
        }
        else if (withCert.Count > 0)
        {
            lines.Add("certificates: the same on every MX host");
        }

        var enforcing = answered.Where(h => h.Main.TlsRequirementCheck is { } r).Select(h => $"{Name(h)} {(h.Main.TlsRequirementCheck!.Code == 530 ? "refuses plaintext (530)" : $"answers {h.Main.TlsRequirementCheck.Code} in plaintext")}").ToList();
        if (enforcing.Count > 0)
        {
            lines.Add($"STARTTLS enforcement (--no-starttls): {string.Join(", ", enforcing)}");
        }

        return lines;
    }

    private static string Name(HostProbe h) => h.MxName is { } mx ? $"{mx} ({h.Target})" : h.Target.ToString();
}
