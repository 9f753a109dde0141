using System.Net;
using DnsClient;

namespace SmtpLens.Net.Resolver;

/// <summary>One MX record: lower preference is tried first (RFC 5321 5.1).</summary>
internal sealed record MxRecord(int Preference, string Exchange)
{
    /// <summary>RFC 7505 "null MX": the domain accepts no mail at all.</summary>
    public bool IsNullMx => Exchange.Length == 0;
}

/// <summary>Where mail for a domain goes: its MX hosts in preference order, or why there are none.</summary>
internal sealed record MxLookup(string Domain, IPEndPoint Server, IReadOnlyList<MxRecord> Hosts, bool Implicit, string? Problem)
{
    /// <summary>The hosts to probe: MX targets by preference, or the domain itself when it has no MX (RFC 5321 5.1).</summary>
    public IReadOnlyList<string> Targets => Implicit ? [Domain] : [.. Hosts.Where(h => !h.IsNullMx).Select(h => h.Exchange)];

    /// <summary>The resolver set the AD bit: the MX RRset is in a DNSSEC-signed zone and validated.</summary>
    public bool Authentic { get; init; }
}

/// <summary>Asks one DNS server for a domain's MX records (through <see cref="DnsServer"/>: UDP, then TCP when truncated).</summary>
internal static class MxResolver
{
    public static async Task<MxLookup> LookupAsync(string domain, IPEndPoint server, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var answer = await new DnsServer(server, timeout, time).QueryAsync(domain, QueryType.MX, cancellationToken);
        var hosts = answer.Mx.OrderBy(m => m.Preference).ThenBy(m => m.Exchange, StringComparer.OrdinalIgnoreCase).ToList();
        return answer.ResponseCode switch
        {
            DnsAnswer.NoError when hosts.Count == 1 && hosts[0].IsNullMx => new MxLookup(domain, server, hosts, false, $"{domain} publishes a null MX (RFC 7505): it accepts no mail"),
            DnsAnswer.NoError => new MxLookup(domain, server, hosts, hosts.Count == 0, null) { Authentic = answer.Authentic },
            DnsAnswer.NameError => new MxLookup(domain, server, [], false, $"{domain} does not exist (NXDOMAIN from {server})"),
            var other => new MxLookup(domain, server, [], false, $"DNS server {server} answered {other} for {domain} MX"),
        };
    }
}
