namespace SmtpLens.Tests.Support;

/// <summary>Which side of the relayed connection a scripted step comes from.</summary>
public enum Peer
{
    Client,
    Server,
}
