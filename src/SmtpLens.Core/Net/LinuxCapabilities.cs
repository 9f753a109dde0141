using System.Globalization;

namespace SmtpLens.Net;

/// <summary>The process's effective capabilities, read from /proc/self/status (no libcap needed).</summary>
internal static class LinuxCapabilities
{
    public const int NetBindService = 10;
    public const int NetAdmin = 12;

    /// <summary>The CapEff bit mask from /proc/self/status text, or null when there is none (not Linux).</summary>
    public static ulong? ParseEffective(string status)
    {
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal)
                && ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var mask))
            {
                return mask;
            }
        }

        return null;
    }

    public static bool Has(ulong mask, int capability) => (mask & (1UL << capability)) != 0;

    public static ulong? Effective()
    {
        try
        {
            return OperatingSystem.IsLinux() ? ParseEffective(File.ReadAllText("/proc/self/status")) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>net.ipv4.ip_unprivileged_port_start: ports below it need CAP_NET_BIND_SERVICE (1024 unless changed).</summary>
    public static int UnprivilegedPortStart()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_unprivileged_port_start").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return 1024;
        }
    }
}
