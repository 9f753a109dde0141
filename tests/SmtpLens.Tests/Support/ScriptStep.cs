namespace SmtpLens.Tests.Support;

/// <summary>One line of a dialogue script: bytes a peer sends, or the peer closing its side.</summary>
/// <param name="Form">The step's marker: ':' text line, '&gt;' escaped bytes, '#' hex bytes, '!' close.</param>
internal sealed record ScriptStep(Peer Peer, char Form, byte[] Bytes, int SourceLine)
{
    public bool IsClose => Form == '!';
}
