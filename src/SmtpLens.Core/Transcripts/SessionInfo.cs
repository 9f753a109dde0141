using System.Net;

namespace SmtpLens.Transcripts;

/// <summary>The facts about a session that every transcript format needs in its header or rows.</summary>
internal sealed class SessionInfo(string sessionId, string listenerName, EndPoint? clientEndPoint, EndPoint? listenEndPoint)
{
    public string SessionId { get; } = sessionId;

    public string ListenerName { get; } = listenerName;

    public EndPoint? ClientEndPoint { get; } = clientEndPoint;

    public EndPoint? ListenEndPoint { get; } = listenEndPoint;

    /// <summary>Set once the upstream connection exists.</summary>
    public EndPoint? UpstreamEndPoint { get; set; }

    public string UpstreamName { get; set; } = string.Empty;

    /// <summary>The TCP peer: the client itself, or the balancer that sent a PROXY header naming <see cref="ClientEndPoint"/>.</summary>
    public EndPoint? ClientSeen { get; init; }

    /// <summary>Where the client was headed (SO_ORIGINAL_DST or the TPROXY local address); null on static routes.</summary>
    public EndPoint? OriginalDestination { get; init; }

    /// <summary>static, original-destination or tproxy.</summary>
    public string Route { get; init; } = "static";

    /// <summary>The local address of the upstream connection (the client's own under --spoof-source).</summary>
    public EndPoint? UpstreamSource { get; set; }
}
