using System.Net;

namespace SmtpLens.Net.Resolver;

/// <summary>The <c>nameserver</c> lines of resolv.conf(5), the system resolver the probe asks for MX records.</summary>
internal static class ResolvConf
{
    public const string DefaultPath = "/etc/resolv.conf";

    public static IReadOnlyList<IPEndPoint> Parse(string text)
    {
        var servers = new List<IPEndPoint>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Split('#', ';')[0].Trim();
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[0] == "nameserver" && IPAddress.TryParse(parts[1].Split('%')[0], out var address))
            {
                servers.Add(new IPEndPoint(address, 53));
            }
        }

        return servers;
    }

    /// <summary>A <c>--dns-server</c> value: an IP, or IP:PORT / [v6]:PORT.</summary>
    public static IPEndPoint ParseServer(string text)
    {
        // IPAddress.TryParse accepts "[::1]:5300" and drops the port, so a port-bearing form goes first.
        var hasPort = text.StartsWith('[') || text.Count(c => c == ':') == 1;
        if (!hasPort && IPAddress.TryParse(text, out var bare))
        {
            return new IPEndPoint(bare, 53);
        }

        if (hasPort && HostPort.TryParse(text, out var hp) && IPAddress.TryParse(hp.Host, out var address) && hp.Port > 0)
        {
            return new IPEndPoint(address, hp.Port);
        }

        throw new FormatException($"DNS server \"{text}\" is not an IP address or IP:PORT");
    }
}
