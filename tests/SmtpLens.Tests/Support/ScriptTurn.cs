namespace SmtpLens.Tests.Support;

/// <summary>Consecutive steps of one peer: what that peer sends before the other one speaks.</summary>
internal sealed record ScriptTurn(Peer Peer, byte[] Bytes, bool IsClose);
