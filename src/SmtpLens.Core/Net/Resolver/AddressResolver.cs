using System.Net;
using System.Net.Sockets;
using DnsClient;

namespace SmtpLens.Net.Resolver;

/// <summary>The A and AAAA records of one MX host, as a sender sees them: every address it may pick.</summary>
/// <param name="Addresses">Every address, IPv4 first, each family in byte order (DNS servers rotate the order;
/// the report must not).</param>
/// <param name="Problem">Why the host has no usable address (NXDOMAIN, SERVFAIL, no records, a timeout); null when it has one.</param>
internal sealed record HostAddresses(string Host, IPEndPoint Server, IReadOnlyList<IPAddress> Addresses, string? Problem)
{
    /// <summary>"A 192.0.2.1, 192.0.2.2; AAAA none".</summary>
    public string Describe()
    {
        if (Problem is not null && Addresses.Count == 0)
        {
            return Problem;
        }

        var v4 = Addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToList();
        var v6 = Addresses.Where(a => a.AddressFamily == AddressFamily.InterNetworkV6).ToList();
        return $"A {(v4.Count == 0 ? "none" : string.Join(", ", v4))}; AAAA {(v6.Count == 0 ? "none" : string.Join(", ", v6))}";
    }
}

/// <summary>Asks one DNS server (the one <c>--mx</c> used) for a host's A and AAAA records, so every address
/// of every MX host can be probed, not the one the operating system would pick.</summary>
internal static class AddressResolver
{
    public static async Task<HostAddresses> LookupAsync(string host, IPEndPoint server, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        // An MX target must be a name (RFC 5321 5.1), but a literal still tells where the sender connects.
        if (IPAddress.TryParse(host, out var literal))
        {
            return new HostAddresses(host, server, [literal], null);
        }

        var dns = new DnsServer(server, timeout, time);
        var problems = new List<string>();
        var addresses = new List<IPAddress>();
        foreach (var type in new[] { QueryType.A, QueryType.AAAA })
        {
            try
            {
                var answer = await dns.QueryAsync(host, type, cancellationToken);
                if (answer.ResponseCode != DnsAnswer.NoError)
                {
                    problems.Add($"{type} answered {answer.ResponseCode}");
                }

                addresses.AddRange(answer.Addresses.Where(a => a.AddressFamily == (type == QueryType.A ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6)));
            }
            catch (Exception e) when (e is TimeoutException or IOException or SocketException)
            {
                problems.Add(e.Message);
            }
        }

        var sorted = addresses.Distinct().OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).ThenBy(a => a.GetAddressBytes(), ByteOrder.Instance).ToList();
        var problem = problems.Count > 0 ? $"{host}: {string.Join("; ", problems.Distinct())} (asked {server})"
            : sorted.Count == 0 ? $"{host} has no A or AAAA record (asked {server})"
            : null;
        return new HostAddresses(host, server, sorted, problem);
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => (x ?? []).AsSpan().SequenceCompareTo(y ?? []);
    }
}
