using SmtpLens.Net;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Probe;

/// <summary><c>probe --mx</c>: every address (A and AAAA, through the same DNS server as the MX lookup) of every MX
/// host, each probed with the MX host's name for SNI and the certificate check, as a sender connecting there would.</summary>
internal static class MxProbe
{
    /// <summary>Addresses probed per MX host; the rest are listed as not probed. Large pools are rare for MX hosts,
    /// and each address costs a connection per TLS offer.</summary>
    public const int DefaultMaxAddresses = 8;

    public static async Task<(IReadOnlyList<HostAddresses> Resolved, IReadOnlyList<HostProbe> Probes)> ProbeAsync(
        SmtpProbe probe, MxLookup lookup, int port, int maxAddresses, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var resolved = new List<HostAddresses>();
        var probes = new List<HostProbe>();
        foreach (var name in lookup.Targets)
        {
            var addresses = await AddressResolver.LookupAsync(name, lookup.Server, timeout, time, cancellationToken);
            resolved.Add(addresses);
            var target = new HostPort(name, port);
            var mxName = lookup.Implicit ? null : name;
            if (addresses.Addresses.Count == 0)
            {
                probes.Add(probe.Unresolved(target, name, addresses.Problem ?? $"{name} has no address"));
                continue;
            }

            // One host's addresses at once (they are independent servers); Task.Run because a loopback or LAN dialogue can
            // complete synchronously up to the handshake. Task.WhenAll keeps the address order for the report.
            probes.AddRange(await Task.WhenAll(addresses.Addresses.Take(maxAddresses).Select(a => Task.Run(() => probe.ProbeHostAsync(target, mxName, cancellationToken, a), cancellationToken))));
        }

        return (resolved, probes);
    }
}
