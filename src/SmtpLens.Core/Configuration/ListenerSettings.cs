using SmtpLens.Net;

namespace SmtpLens.Configuration;

/// <summary>One listening socket and the next hop its sessions are relayed to.</summary>
internal sealed record ListenerSettings(string Name, HostPort Listen, HostPort Upstream)
{
    /// <summary>Port-465 style: TLS from the first byte on both legs.</summary>
    public bool ImplicitTls { get; init; }

    /// <summary>Deliberate, labelled alterations for demonstrations and the lab; null for a faithful relay.</summary>
    public SmtpLens.Simulation.SimulationRules? Simulation { get; init; }
}
