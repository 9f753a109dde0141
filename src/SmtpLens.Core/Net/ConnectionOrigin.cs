using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace SmtpLens.Net;

/// <summary>Who really connected and where they were headed, learned before the session starts.</summary>
internal sealed record ConnectionOrigin
{
    /// <summary>The peer address of the TCP connection: the client, or the balancer that sent a PROXY header.</summary>
    public required IPEndPoint ClientSeen { get; init; }

    /// <summary>The real client: from the PROXY header when it carried addresses, else <see cref="ClientSeen"/>.</summary>
    public required IPEndPoint Client { get; init; }

    /// <summary>The accepted socket's local address (under TPROXY, the address the client dialled).</summary>
    public required IPEndPoint Local { get; init; }

    public UpstreamRoute Route { get; init; }

    public ProxyHeader? ProxyHeader { get; init; }

    /// <summary>Set when the listener required a PROXY header and what came was missing or malformed.</summary>
    public string? ProxyHeaderError { get; init; }

    /// <summary>Where the client was headed: SO_ORIGINAL_DST, or the TPROXY socket's local address.</summary>
    public IPEndPoint? OriginalDestination { get; init; }

    /// <summary>Set when a transparent route has no usable destination (not redirected, or it points at SmtpLens itself).</summary>
    public string? RouteError { get; init; }

    public static ConnectionOrigin Direct(Socket client) => new()
    {
        ClientSeen = Endpoint(client.RemoteEndPoint),
        Client = Endpoint(client.RemoteEndPoint),
        Local = Endpoint(client.LocalEndPoint),
    };

    public static async Task<ConnectionOrigin> ResolveAsync(Socket client, UpstreamRoute route, ProxyProtocolMode acceptProxy, IPEndPoint listening, TimeProvider time, CancellationToken cancellationToken)
    {
        var origin = Direct(client) with { Route = route };
        var (header, headerError) = await ProxyHeaderReader.ReadAsync(client, acceptProxy, time, cancellationToken);
        if (headerError is not null)
        {
            return origin with { ProxyHeaderError = headerError };
        }

        if (header is { CarriesAddresses: true })
        {
            origin = origin with { ProxyHeader = header, Client = header.Source! };
        }
        else if (header is not null)
        {
            origin = origin with { ProxyHeader = header };
        }

        return route switch
        {
            UpstreamRoute.OriginalDestination => WithOriginalDestination(origin, client, listening),
            UpstreamRoute.Tproxy => CheckNotSelf(origin with { OriginalDestination = origin.Local }, listening, "TPROXY"),
            _ => origin,
        };
    }

    private static ConnectionOrigin WithOriginalDestination(ConnectionOrigin origin, Socket client, IPEndPoint listening)
    {
        IPEndPoint destination;
        try
        {
            destination = ProxyHeaderWriter.Unmap(LinuxSocketOptions.OriginalDestination(client));
        }
        catch (SocketException e)
        {
            return origin with { RouteError = $"no original destination: SO_ORIGINAL_DST failed ({e.SocketErrorCode}: {e.Message}); the connection was not redirected by netfilter (REDIRECT/DNAT) or conntrack is off" };
        }

        return CheckNotSelf(origin with { OriginalDestination = destination }, listening, "original");
    }

    /// <summary>A connection that reached the listener directly would be relayed to SmtpLens itself, forever.</summary>
    private static ConnectionOrigin CheckNotSelf(ConnectionOrigin origin, IPEndPoint listening, string what)
    {
        var destination = origin.OriginalDestination!;
        var self = destination.Port == listening.Port && IsLocalAddress(destination.Address);
        return self
            ? origin with { RouteError = $"the {what} destination {destination} is SmtpLens's own listener: the connection was not redirected (or a rule also catches SmtpLens's own traffic); refusing so it cannot loop" }
            : origin;
    }

    private static bool IsLocalAddress(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        return NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Any(u => u.Address.Equals(address));
    }

    private static IPEndPoint Endpoint(EndPoint? endPoint) =>
        endPoint is IPEndPoint ip ? ProxyHeaderWriter.Unmap(ip) : new IPEndPoint(IPAddress.None, 0);
}
