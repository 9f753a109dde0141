using SmtpLens.Net;

namespace SmtpLens.Configuration;

/// <summary>One listening socket and the next hop its sessions are relayed to.</summary>
/// <remarks>With a transparent <see cref="Route"/>, <paramref name="Upstream"/> is unused: each session finds its own.</remarks>
internal sealed record ListenerSettings(string Name, HostPort Listen, HostPort Upstream)
{
    public UpstreamRoute Route { get; init; }

    /// <summary>TPROXY only: connect upstream from the client's own address, so the upstream sees the real sender.</summary>
    public bool SpoofSource { get; init; }

    /// <summary>The PROXY protocol header expected from connecting peers (a balancer in front).</summary>
    public ProxyProtocolMode AcceptProxy { get; init; }

    /// <summary>0 for none, else the PROXY protocol version sent upstream before anything else.</summary>
    public int SendProxy { get; init; }

    /// <summary>For logs: the next hop, or how each session finds it.</summary>
    public string UpstreamText => Route == UpstreamRoute.Static ? Upstream.ToString() : $"each session's {(Route == UpstreamRoute.Tproxy ? "TPROXY" : "original")} destination ({Route.Name()}{(SpoofSource ? ", client address spoofed" : string.Empty)})";

    /// <summary>Port-465 style: TLS from the first byte on both legs.</summary>
    public bool ImplicitTls { get; init; }

    /// <summary>Deliberate, labelled alterations for demonstrations and the lab; null for a faithful relay.</summary>
    public SmtpLens.Simulation.SimulationRules? Simulation { get; init; }
}
