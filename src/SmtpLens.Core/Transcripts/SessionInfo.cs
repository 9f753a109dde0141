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
}
