using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace SmtpLens.Net;

/// <summary>A <c>host:port</c> or <c>[v6]:port</c> as users type it on the command line.</summary>
internal sealed record HostPort(string Host, int Port)
{
    public static bool TryParse(string? text, [NotNullWhen(true)] out HostPort? value)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                return false;
            }

            host = text[1..close];
            portText = text[(close + 2)..];
            if (host.Length == 0)
            {
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':') != colon)
            {
                return false;
            }

            host = text[..colon];
            portText = text[(colon + 1)..];
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            return false;
        }

        value = new HostPort(host, port);
        return true;
    }

    public static HostPort Parse(string text, string what) =>
        TryParse(text, out var v) ? v : throw new FormatException($"{what}: \"{text}\" is not HOST:PORT (use [v6addr]:port for IPv6)");

    /// <summary>The address to bind: a literal IP, or "*"/"0.0.0.0" for any, or localhost.</summary>
    public IPEndPoint ToBindEndPoint()
    {
        var address = Host switch
        {
            "*" or "0.0.0.0" => IPAddress.Any,
            "::" => IPAddress.IPv6Any,
            "localhost" => IPAddress.Loopback,
            _ when IPAddress.TryParse(Host, out var ip) => ip,
            _ => throw new FormatException($"listen address \"{Host}\" must be an IP address, \"*\" or localhost"),
        };
        return new IPEndPoint(address, Port);
    }

    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
