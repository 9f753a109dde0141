using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>
/// Picks loopback TCP ports at run time for peers we cannot hand a pre-bound socket (Postfix, smtp-sink).
/// The port is released before the peer binds it, so callers must retry on "Address already in use".
/// </summary>
/// <remarks>
/// Candidates come from below the kernel's ephemeral range (ip_local_port_range), not from bind(0): an
/// ephemeral port can be handed to another process's bind(0) or outgoing connection in the window between
/// our release and the peer's bind. Seen in practice: a concurrent benchmark that picked ports with bind(0)
/// found our Postfix listening on "its" port and delivered its load into the test's mailbox.
/// </remarks>
internal static class FreePort
{
    private const int Floor = 10000;
    private static readonly Lock Gate = new();

    // Never hand the same port out twice in one test run: two peers started in parallel must not race for it.
    private static readonly HashSet<int> Issued = [];

    public static int Next()
    {
        var ceiling = EphemeralRangeStart() - 1;
        for (var attempt = 0; attempt < 200 && ceiling - Floor >= 1000; attempt++)
        {
            var port = Random.Shared.Next(Floor, ceiling + 1);
            if (TryBind(port) && Claim(port))
            {
                return port;
            }
        }

        // No room below the ephemeral range (unusual ip_local_port_range): let the kernel choose.
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            if (Claim(((IPEndPoint)socket.LocalEndPoint!).Port))
            {
                return ((IPEndPoint)socket.LocalEndPoint!).Port;
            }
        }

        throw new InvalidOperationException("Could not find an unused loopback port.");
    }

    private static bool Claim(int port)
    {
        lock (Gate)
        {
            return Issued.Add(port);
        }
    }

    private static bool TryBind(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768; // Linux default.
        }
    }
}
