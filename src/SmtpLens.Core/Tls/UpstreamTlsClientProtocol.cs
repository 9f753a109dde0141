using Org.BouncyCastle.Tls;

namespace SmtpLens.Tls;

/// <summary>BouncyCastle's client protocol, saying when the upstream's CertificateRequest has been processed.</summary>
/// <remarks>TLS 1.3 encrypts the CertificateRequest, so mirror mode cannot see it on the wire as it does in 1.2;
/// the engine is the only place that knows.</remarks>
internal sealed class UpstreamTlsClientProtocol : TlsClientProtocol
{
    /// <summary>The upstream asked for a client certificate (TLS 1.3 or below).</summary>
    public bool CertificateRequested { get; private set; }

    protected override void Receive13CertificateRequest(MemoryStream buf, bool postHandshakeAuth)
    {
        base.Receive13CertificateRequest(buf, postHandshakeAuth);
        CertificateRequested = true;
    }

    protected override void ReceiveCertificateRequest(MemoryStream buf)
    {
        base.ReceiveCertificateRequest(buf);
        CertificateRequested = true;
    }
}
