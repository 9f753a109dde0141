using System.Globalization;
using SmtpLens.Findings;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe;

/// <summary>One thing compared between the addresses that answered: its value at each, grouped.</summary>
/// <param name="Decisive">A difference changes what some sender decides (STARTTLS, handshake, trust, name, a verdict);
/// a different certificate or TLS version alone does not.</param>
/// <param name="WithinHost">Two addresses of the same MX host disagree (one name, several servers or a load balancer
/// out of step), rather than two different hosts.</param>
internal sealed record MxAspect(string Name, bool Decisive, bool WithinHost, IReadOnlyList<MxAspectGroup> Groups)
{
    public bool Differs => Groups.Count > 1;
}

internal sealed record MxAspectGroup(string Value, IReadOnlyList<string> Addresses);

/// <summary>What differs between every address of every MX host of a domain: a sender picks any of them, so STARTTLS
/// or a certificate that only some offer is mail that queues some of the time (intermittent STARTTLS, a classic incident).</summary>
internal sealed record MxComparison(string? Domain, int Answered, int Hosts, IReadOnlyList<MxAspect> Aspects, IReadOnlyList<string> NotReached, Finding? Finding)
{
    public IEnumerable<MxAspect> Differences => Aspects.Where(a => a.Differs);

    /// <summary>Compares the main connection of each probed address; fewer than two answering addresses compare nothing.</summary>
    public static MxComparison Compare(string? domain, IReadOnlyList<HostProbe> probes, bool implicitTls)
    {
        var answered = probes.Where(p => p.Main.Banner?.Class == 2).ToList();
        var notReached = probes.Where(p => p.Main.Banner?.Class != 2).Select(p => $"{p.Label}: {p.Main.Error ?? p.Main.Banner?.RawLines[^1] ?? p.Main.Note ?? "no greeting"}").ToList();
        var hosts = answered.Select(HostOf).Distinct(StringComparer.OrdinalIgnoreCase).Count();
        if (answered.Count < 2)
        {
            return new MxComparison(domain, answered.Count, hosts, [], notReached, null);
        }

        var aspects = new List<MxAspect>();
        if (!implicitTls)
        {
            aspects.Add(Aspect("STARTTLS", decisive: true, answered, p => p.Main.StartTlsOffered ? "offered" : "NOT offered"));
        }

        aspects.Add(Aspect("TLS handshake", decisive: true, answered, p => p.Main.Tls switch
        {
            null => "not attempted",
            { Completed: true } => "completed",
            _ => "FAILED",
        }));
        aspects.Add(Aspect("TLS version", decisive: false, answered, p => p.Main.Tls is { Completed: true, Version: { } v } ? TlsNames.Version(v) : null));
        aspects.Add(Aspect("certificate", decisive: false, answered, p => Leaf(p) is { } c ? $"sha256 {c.Sha256Fingerprint[..16]} CN={c.CommonName ?? "(none)"}" : null));
        aspects.Add(Aspect("certificate name", decisive: true, answered, p => p.Main.Tls is { Completed: true, NameMatches: { } m } ? (m ? "matches" : "does NOT match") : null));
        aspects.Add(Aspect("trust", decisive: true, answered, p => p.Main.Tls is { Completed: true, ChainTrusted: { } t } ? (t ? "chain trusted" : "chain NOT trusted") : null));
        aspects.Add(Aspect("STARTTLS enforced", decisive: true, answered, p => StartTlsEnforcement.Of(p.Main, implicitTls) is { Value: not StartTlsEnforcement.NotTested } e ? e.Value : null));
        foreach (var policy in answered.SelectMany(p => p.Verdicts.Select(v => v.Policy)).Distinct(StringComparer.Ordinal))
        {
            aspects.Add(Aspect($"policy {policy}", decisive: true, answered, p => p.Verdicts.FirstOrDefault(v => v.Policy == policy)?.VerdictName));
        }

        aspects.RemoveAll(a => a.Groups.Count == 0);
        return new MxComparison(domain, answered.Count, hosts, aspects, notReached, Raise(domain, answered, aspects, implicitTls));
    }

    /// <summary>"STARTTLS offered; TLSv1.3; sha256 0CA384659F90B86C CN=mx.example.com, name matches, NOT trusted; enforced: not tested".</summary>
    public static string Compact(HostProbe p, bool implicitTls)
    {
        var main = p.Main;
        if (main.Banner?.Class != 2)
        {
            return $"not reached: {main.Error ?? main.Banner?.RawLines[^1] ?? main.Note ?? "no greeting"}";
        }

        var parts = new List<string>();
        if (!implicitTls)
        {
            parts.Add(main.StartTlsOffered ? "STARTTLS offered" : "STARTTLS NOT offered");
        }

        parts.Add(main.Tls switch
        {
            null => "no TLS",
            { Completed: true } leg => string.Create(CultureInfo.InvariantCulture, $"{TlsNames.Version(leg.Version ?? 0)}{(Leaf(p) is { } c ? $", sha256 {c.Sha256Fingerprint[..16]} CN={c.CommonName ?? "(none)"}" : string.Empty)}{(leg.NameMatches is { } m ? m ? ", name matches" : ", name does NOT match" : string.Empty)}{(leg.ChainTrusted is { } t ? t ? ", trusted" : ", NOT trusted" : string.Empty)}"),
            { } leg => $"TLS handshake FAILED: {leg.Failure}",
        });
        parts.Add($"enforced: {StartTlsEnforcement.Of(main, implicitTls).Value}");
        return string.Join("; ", parts);
    }

    private static CertificateSummary? Leaf(HostProbe p) => p.Main.Tls?.ServerCertificates.FirstOrDefault();

    private static string HostOf(HostProbe p) => p.MxName ?? p.Target.Host;

    private static MxAspect Aspect(string name, bool decisive, IReadOnlyList<HostProbe> answered, Func<HostProbe, string?> value)
    {
        var valued = answered.Select(p => (Probe: p, Value: value(p))).Where(x => x.Value is not null).ToList();
        var groups = valued.GroupBy(x => x.Value!, StringComparer.Ordinal)
            .Select(g => new MxAspectGroup(g.Key, [.. g.Select(x => x.Probe.Label)]))
            .ToList();
        var withinHost = valued.GroupBy(x => HostOf(x.Probe), StringComparer.OrdinalIgnoreCase).Any(h => h.Select(x => x.Value).Distinct(StringComparer.Ordinal).Count() > 1);
        return new MxAspect(name, decisive, withinHost, groups);
    }

    /// <summary>MX_TLS_INCONSISTENT: a warning when a sender's decision depends on the address it picks; info when only
    /// the certificate or TLS version differs between addresses of one host; nothing for hosts that differ harmlessly.</summary>
    private static Finding? Raise(string? domain, IReadOnlyList<HostProbe> answered, IReadOnlyList<MxAspect> aspects, bool implicitTls)
    {
        var decisive = aspects.Where(a => a.Differs && a.Decisive).ToList();
        var cosmetic = aspects.Where(a => a.Differs && !a.Decisive && a.WithinHost).ToList();
        if (decisive.Count == 0 && cosmetic.Count == 0)
        {
            return null;
        }

        var named = decisive.Where(a => !a.Name.StartsWith("policy ", StringComparison.Ordinal)).ToList();
        var policies = decisive.Where(a => a.Name.StartsWith("policy ", StringComparison.Ordinal)).Select(a => a.Name["policy ".Length..]).ToList();
        var parts = (decisive.Count > 0 ? named : cosmetic).Select(Describe).ToList();
        if (policies.Count > 0)
        {
            parts.Add(policies.Count == 1 ? $"1 policy verdict differs ({policies[0]})" : $"{policies.Count} policy verdicts differ ({string.Join(", ", policies)})");
        }

        var scope = domain is null ? "the probed addresses" : $"{domain}'s MX addresses";
        var title = $"{scope} differ: {string.Join("; ", parts)}";
        var evidence = answered.Select(p => Evidence(p, implicitTls)).ToList();
        var facts = new Dictionary<string, object?>
        {
            ["domain"] = domain,
            ["addresses"] = answered.Select(p => p.Label).ToList(),
            ["differences"] = aspects.Where(a => a.Differs && (a.Decisive || a.WithinHost)).Select(a => new Dictionary<string, object?>
            {
                ["aspect"] = a.Name,
                ["decisive"] = a.Decisive,
                ["withinHost"] = a.WithinHost,
                ["values"] = a.Groups.Select(g => new Dictionary<string, object?> { ["value"] = g.Value, ["addresses"] = g.Addresses }).ToList(),
            }).ToList(),
        };
        var finding = FindingCatalog.MxTlsInconsistent.Create(FindingLeg.Upstream, title, evidence, facts, severity: decisive.Count > 0 ? FindingSeverity.Warning : FindingSeverity.Info);
        return finding with { Session = answered[0].Main.SessionId, At = answered[0].Main.Events.LastOrDefault()?.Timestamp ?? default };
    }

    /// <summary>"STARTTLS offered by a, b, NOT offered by c".</summary>
    private static string Describe(MxAspect a) =>
        $"{a.Name} {string.Join(", ", a.Groups.Select(g => $"{g.Value} at {string.Join(", ", g.Addresses)}"))}";

    private static FindingEvidence Evidence(HostProbe p, bool implicitTls)
    {
        var summary = p.Main.Events.LastOrDefault(e => e.Kind == EventKinds.Summary) ?? p.Main.Events.LastOrDefault();
        return new FindingEvidence(summary?.Seq ?? 0, summary?.Kind ?? EventKinds.Summary, $"{p.Label} (session {p.Main.SessionId}): {Compact(p, implicitTls)}");
    }
}
