using System.Net;
using System.Net.Sockets;

namespace SmtpLens.Net;

/// <summary>Opens the TCP connection to the next hop, trying each resolved address in turn.</summary>
internal static class UpstreamConnector
{
    /// <param name="spoofedSource">TPROXY --spoof-source: bind this foreign address (port 0) with IP_TRANSPARENT first.</param>
    public static async Task<Socket> ConnectAsync(HostPort upstream, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken, IPEndPoint? spoofedSource = null)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(upstream.Host, out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(upstream.Host, linked.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"resolving {upstream.Host} took longer than {timeout.TotalSeconds:0} s");
        }

        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (spoofedSource is not null)
                {
                    // Port 0: the client's own port would repeat the 4-tuple of the connection TPROXY handed us.
                    LinuxSocketOptions.SetTransparent(socket);
                    socket.Bind(new IPEndPoint(spoofedSource.Address, 0));
                }

                await socket.ConnectAsync(new IPEndPoint(address, upstream.Port), linked.Token);
                return socket;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                socket.Dispose();
                last = new TimeoutException($"connecting to {address}:{upstream.Port} took longer than {timeout.TotalSeconds:0} s");
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
        }

        throw last!;
    }
}
