using System.IO.Pipelines;
using SmtpLens.Tls;

namespace SmtpLens.Relay;

/// <summary>One side of a session as the pumps see it: where its bytes come from and where ours go.</summary>
/// <remarks>After a TLS upgrade both are replaced by decrypted views; the TLS engine reads the old reader,
/// so bytes already buffered there (a ClientHello) are never lost.</remarks>
internal sealed record RelayLeg(PipeReader Reader, Stream Writer)
{
    /// <summary>Sends close_notify on a TLS leg; plain legs close with the socket.</summary>
    public Task CloseAsync() => Writer is BouncyTlsStream tls ? tls.CloseNotifyAsync() : Task.CompletedTask;
}
