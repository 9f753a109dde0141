using System.Net;

namespace SmtpLens.Net;

/// <summary>What a HAProxy PROXY protocol header said (v1 text or v2 binary).</summary>
/// <param name="Length">Bytes the header occupied on the wire.</param>
internal sealed record ProxyHeader(int Version, ProxyCommand Command, IPEndPoint? Source, IPEndPoint? Destination, int Length)
{
    /// <summary>v2 TLV types in wire order (e.g. 0x02 authority, 0x20 SSL); their values are not interpreted.</summary>
    public IReadOnlyList<byte> TlvTypes { get; init; } = [];

    /// <summary>True when the header names the real client; LOCAL and UNKNOWN mean "use the connection's own addresses".</summary>
    public bool CarriesAddresses => Command == ProxyCommand.Proxy && Source is not null && Destination is not null;

    public string Describe() => Command switch
    {
        ProxyCommand.Proxy => $"PROXY v{Version}: client {Source} -> {Destination}",
        ProxyCommand.Local => $"PROXY v{Version} LOCAL (the balancer's own connection, e.g. a health check)",
        _ => $"PROXY v{Version} UNKNOWN (no addresses given)",
    };
}

internal enum ProxyCommand
{
    /// <summary>Relayed for a client whose addresses the header carries.</summary>
    Proxy,

    /// <summary>v2 LOCAL: the sender's own connection (health checks); addresses are the socket's.</summary>
    Local,

    /// <summary>v1 UNKNOWN or v2 PROXY with AF_UNSPEC: the sender could not tell.</summary>
    Unknown,
}

/// <summary>What a listener expects from connecting peers.</summary>
internal enum ProxyProtocolMode
{
    None,
    V1,
    V2,

    /// <summary>v1, v2 or no header; a direct client waits up to <see cref="ProxyHeaderReader.OptionalWait"/> for its banner.</summary>
    Optional,
}
