using Org.BouncyCastle.Tls;

namespace SmtpLens.Tls;

/// <summary>A server protocol that can end a completed handshake with a fatal alert of our choosing.</summary>
/// <remarks>Needed when the client leg finishes before the upstream leg (client-certificate mirroring) and
/// the upstream then fails: the sender must see TLS fail, not a close_notify that looks like success.</remarks>
internal sealed class AbortableTlsServerProtocol : TlsServerProtocol
{
    public void Abort(short description, string message)
    {
        // Queues the alert record for the caller to flush, then marks the session failed and closed.
        RaiseAlertFatal(description, message, null);
        HandleFailure();
    }
}
