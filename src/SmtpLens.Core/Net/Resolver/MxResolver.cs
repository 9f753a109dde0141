using System.Net;
using System.Net.Sockets;

namespace SmtpLens.Net.Resolver;

/// <summary>Where mail for a domain goes: its MX hosts in preference order, or why there are none.</summary>
internal sealed record MxLookup(string Domain, IPEndPoint Server, IReadOnlyList<MxRecord> Hosts, bool Implicit, string? Problem)
{
    /// <summary>The hosts to probe: MX targets by preference, or the domain itself when it has no MX (RFC 5321 5.1).</summary>
    public IReadOnlyList<string> Targets => Implicit ? [Domain] : [.. Hosts.Where(h => !h.IsNullMx).Select(h => h.Exchange)];
}

/// <summary>Asks one DNS server for MX records over UDP, falling back to TCP when the answer is truncated.</summary>
internal static class MxResolver
{
    public static async Task<MxLookup> LookupAsync(string domain, IPEndPoint server, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var id = (ushort)Random.Shared.Next(0x10000);
        var query = DnsMessage.BuildMxQuery(id, domain);
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        DnsResponse response;
        try
        {
            response = await QueryUdpAsync(query, id, server, linked.Token);
            if (response.Truncated)
            {
                response = await QueryTcpAsync(query, id, server, linked.Token);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"DNS server {server} did not answer the MX query for {domain} within {timeout.TotalSeconds:0} s");
        }

        var hosts = response.Mx.OrderBy(m => m.Preference).ThenBy(m => m.Exchange, StringComparer.OrdinalIgnoreCase).ToList();
        return response.ResponseCode switch
        {
            DnsResponse.NoError when hosts.Count == 1 && hosts[0].IsNullMx => new MxLookup(domain, server, hosts, false, $"{domain} publishes a null MX (RFC 7505): it accepts no mail"),
            DnsResponse.NoError => new MxLookup(domain, server, hosts, hosts.Count == 0, null),
            DnsResponse.NameError => new MxLookup(domain, server, [], false, $"{domain} does not exist (NXDOMAIN from {server})"),
            _ => new MxLookup(domain, server, [], false, $"DNS server {server} answered {response.ResponseCodeName} for {domain} MX"),
        };
    }

    private static async Task<DnsResponse> QueryUdpAsync(byte[] query, ushort id, IPEndPoint server, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(server, cancellationToken);
        await socket.SendAsync(query, SocketFlags.None, cancellationToken);
        var buffer = new byte[4096];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            var response = DnsMessage.ParseResponse(buffer.AsSpan(0, n));
            // A stray datagram with another id is not our answer (RFC 5452): keep waiting.
            if (response.Id == id)
            {
                return response;
            }
        }
    }

    private static async Task<DnsResponse> QueryTcpAsync(byte[] query, ushort id, IPEndPoint server, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server, cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var framed = new byte[query.Length + 2];
        framed[0] = (byte)(query.Length >> 8);
        framed[1] = (byte)query.Length;
        query.CopyTo(framed, 2);
        await stream.WriteAsync(framed, cancellationToken);
        var prefix = new byte[2];
        await stream.ReadExactlyAsync(prefix, cancellationToken);
        var body = new byte[(prefix[0] << 8) | prefix[1]];
        await stream.ReadExactlyAsync(body, cancellationToken);
        var response = DnsMessage.ParseResponse(body);
        return response.Id == id ? response : throw new FormatException($"DNS server {server} answered over TCP with id {response.Id}, expected {id}");
    }
}
