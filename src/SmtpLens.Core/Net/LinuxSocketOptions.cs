using System.Net;
using System.Net.Sockets;

namespace SmtpLens.Net;

/// <summary>The netfilter and transparent-proxy socket options .NET has no names for (linux/in.h, linux/netfilter_ipv4.h).</summary>
internal static class LinuxSocketOptions
{
    public const int SolIp = 0;
    public const int SolIpv6 = 41;
    public const int IpTransparent = 19;
    public const int Ipv6Transparent = 75;
    public const int SoOriginalDst = 80;
    public const int Ip6tSoOriginalDst = 80;
    public const int SolSocket = 1;
    public const int SoReuseAddr = 2;

    /// <summary>Where a REDIRECT/DNAT-ed connection was headed before netfilter rewrote it.</summary>
    /// <exception cref="SocketException">ENOENT when conntrack has no entry (not redirected, or conntrack off).</exception>
    public static IPEndPoint OriginalDestination(Socket accepted)
    {
        Span<byte> buffer = stackalloc byte[SockAddr.Inet6Length];
        var remote = accepted.RemoteEndPoint as IPEndPoint;
        var ipv6 = accepted.AddressFamily == AddressFamily.InterNetworkV6 && remote is not null && !remote.Address.IsIPv4MappedToIPv6;
        var length = ipv6
            ? accepted.GetRawSocketOption(SolIpv6, Ip6tSoOriginalDst, buffer)
            : accepted.GetRawSocketOption(SolIp, SoOriginalDst, buffer[..SockAddr.InetLength]);
        if (!SockAddr.TryParse(buffer[..length], out var destination))
        {
            throw new SocketException((int)SocketError.AddressFamilyNotSupported);
        }

        return destination!;
    }

    /// <summary>SO_REUSEADDR without the SO_REUSEPORT that <see cref="SocketOptionName.ReuseAddress"/> also sets on Linux.</summary>
    public static void SetReuseAddressOnly(Socket socket) => socket.SetRawSocketOption(SolSocket, SoReuseAddr, [1, 0, 0, 0]);

    /// <summary>IP_TRANSPARENT (IPV6_TRANSPARENT on IPv6 sockets): accept TPROXY traffic, or bind a foreign source address.</summary>
    /// <exception cref="SocketException">EPERM without CAP_NET_ADMIN.</exception>
    public static void SetTransparent(Socket socket)
    {
        Span<byte> on = [1, 0, 0, 0];
        // Both options set the same per-socket flag; on a dual-mode socket it covers IPv4 too.
        if (socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.SetRawSocketOption(SolIpv6, Ipv6Transparent, on);
        }
        else
        {
            socket.SetRawSocketOption(SolIp, IpTransparent, on);
        }
    }
}
