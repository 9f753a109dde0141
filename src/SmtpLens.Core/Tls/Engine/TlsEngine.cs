using Org.BouncyCastle.Tls;

namespace SmtpLens.Tls.Engine;

/// <summary>The engine's face for code outside Tls/: a handshake in, a decrypted Stream and a leg record out.</summary>
/// <remarks>The probe and the lab peers go through here, so BouncyCastle's types stay inside Tls/.</remarks>
internal static class TlsEngine
{
    /// <summary>Runs a TLS client handshake over <paramref name="transport"/>; the leg record fills as it goes.</summary>
    /// <param name="serverCertificate">Sees the server's chain (DER, leaf first) inside the handshake; may throw
    /// <see cref="RejectCertificate"/> to fail it.</param>
    public static async Task<BouncyTlsStream> ConnectAsync(Stream transport, TlsPolicy policy, string? serverName, TlsLegRecord leg, TimeProvider time, Action<IReadOnlyList<byte[]>>? serverCertificate, CancellationToken cancellationToken)
    {
        var events = new TlsPeerEvents(leg, time);
        var peer = new UpstreamTlsClient(events.CreateCrypto(), policy, serverName, null, chain => serverCertificate?.Invoke([.. TlsPeerEvents.Der(chain)]), events);
        var protocol = new TlsClientProtocol();
        var stream = new BouncyTlsStream(protocol, transport, events);
        try
        {
            protocol.Connect(peer);
            await stream.HandshakeAsync(() => events.HandshakeComplete, cancellationToken);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a TLS server handshake presenting <paramref name="identity"/>.</summary>
    /// <param name="clientCertificate">Sees the client's chain (empty when it sent none); may throw <see cref="RejectCertificate"/>.</param>
    public static async Task<BouncyTlsStream> AcceptAsync(Stream transport, TlsPolicy policy, TlsIdentity identity, bool requestClientCertificate, Action<IReadOnlyList<byte[]>>? clientCertificate, TlsLegRecord leg, TimeProvider time, CancellationToken cancellationToken)
    {
        var events = new TlsPeerEvents(leg, time);
        var peer = new InterceptingTlsServer(events.CreateCrypto(), policy, identity, requestClientCertificate, null, events, clientCertificate);
        var protocol = new TlsServerProtocol();
        var stream = new BouncyTlsStream(protocol, transport, events);
        try
        {
            protocol.Accept(peer);
            await stream.HandshakeAsync(() => events.HandshakeComplete, cancellationToken);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>The exception a certificate callback throws to end the handshake with a bad_certificate alert.</summary>
    public static Exception RejectCertificate(string reason) => new TlsFatalAlert(AlertDescription.bad_certificate, new IOException(reason));

    /// <summary>Whether <paramref name="e"/> is how a TLS handshake fails (as opposed to a bug).</summary>
    public static bool IsHandshakeFailure(Exception e) =>
        e is IOException or OperationCanceledException or TlsException or InvalidOperationException or FormatException or Org.BouncyCastle.Crypto.CryptoException or ArgumentException or System.Net.Sockets.SocketException;

    /// <summary>An alert-bearing failure in words ("the server sent a fatal ... alert"), or null for other failures.</summary>
    public static string? DescribeAlert(Exception e, string peer) => e switch
    {
        TlsFatalAlertReceived r => $"the {peer} sent a fatal {TlsNames.Alert(r.AlertDescription)} alert",
        TlsFatalAlert a => $"SmtpLens raised a fatal {TlsNames.Alert(a.AlertDescription)} alert: {a.InnerException?.Message ?? a.Message}",
        _ => null,
    };
}
