using SmtpLens.Net;

namespace SmtpLens.Configuration;

/// <summary>What would stop listeners from working, found before binding, each said in one line.</summary>
internal static class StartupCheck
{
    private const string Grant = "run as root, or grant it: systemd AmbientCapabilities= (see config/smtplens.service) or setcap on the binary";

    /// <param name="capabilities">The effective capability mask; null when unknown (then nothing is reported).</param>
    public static IReadOnlyList<string> Problems(IEnumerable<ListenerSettings> listeners, ulong? capabilities, int unprivilegedPortStart)
    {
        var problems = new List<string>();
        if (capabilities is not { } caps)
        {
            return problems;
        }

        foreach (var l in listeners)
        {
            if (l.Listen.Port is > 0 && l.Listen.Port < unprivilegedPortStart && !LinuxCapabilities.Has(caps, LinuxCapabilities.NetBindService))
            {
                problems.Add($"listener {l.Name}: port {l.Listen.Port} is below {unprivilegedPortStart} and needs CAP_NET_BIND_SERVICE, which this process lacks; {Grant}");
            }

            if (l.Route == UpstreamRoute.Tproxy && !LinuxCapabilities.Has(caps, LinuxCapabilities.NetAdmin))
            {
                problems.Add($"listener {l.Name}: --route tproxy needs IP_TRANSPARENT on the listening socket{(l.SpoofSource ? " and on every upstream socket (--spoof-source)" : string.Empty)}, which needs CAP_NET_ADMIN, which this process lacks; {Grant}");
            }
        }

        return problems;
    }
}
