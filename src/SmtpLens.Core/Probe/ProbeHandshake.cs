using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;
using SmtpLens.Tls;

namespace SmtpLens.Probe;

/// <summary>The probe's TLS client: the proxy's upstream-leg client, taps and validation, without enforcement.</summary>
/// <remarks>Nothing is refused here: an expired or untrusted certificate is what the admin came to see, so it is
/// recorded for the detectors and the handshake goes on.</remarks>
internal static class ProbeHandshake
{
    public static async Task<BouncyTlsStream?> ConnectAsync(Stream input, Stream output, TlsPolicy policy, string? serverName, TlsLegRecord leg, TimeProvider time, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var tapped = new TappedStream(input, output, new HandshakeTap(), new HandshakeTap());
        var events = new TlsPeerEvents(leg, time);
        var chain = new List<byte[]>();
        var peer = new UpstreamTlsClient(
            policy,
            serverName,
            null,
            certificate =>
            {
                chain.AddRange(TlsPeerEvents.Der(certificate));
                leg.ServerCertificatesDer = chain;
                leg.ServerCertificates.AddRange(chain.Select(CertificateSummary.FromDer));
                UpstreamValidation.Check(leg, chain, serverName, time.GetUtcNow());
            },
            events);
        var protocol = new TlsClientProtocol(new SecureRandom());
        var stream = new BouncyTlsStream(protocol, tapped, events);
        using var deadline = new StepDeadline(timeout, time, cancellationToken);
        try
        {
            protocol.Connect(peer);
            await stream.HandshakeAsync(() => events.HandshakeComplete, deadline.Token);
            leg.ClientHello = tapped.Outbound.Find(1, ClientHello.Parse);
            leg.ServerHello = tapped.Inbound.Find(2, ServerHello.Parse);
            return stream;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or TlsException or InvalidOperationException or FormatException or Org.BouncyCastle.Crypto.CryptoException or ArgumentException or System.Net.Sockets.SocketException)
        {
            if (e is OperationCanceledException && !deadline.Expired)
            {
                throw;
            }

            leg.ClientHello = tapped.Outbound.Find(1, ClientHello.Parse);
            leg.ServerHello = tapped.Inbound.Find(2, ServerHello.Parse);
            leg.Failure = Describe(e, leg, deadline.Expired, timeout);
            await stream.DisposeAsync();
            return null;
        }
    }

    private static string Describe(Exception e, TlsLegRecord leg, bool timedOut, TimeSpan timeout)
    {
        var what = timedOut
            ? $"handshake timed out after {timeout.TotalSeconds:0} s (server silent)"
            : e switch
            {
                TlsFatalAlertReceived r => $"the server sent a fatal {TlsNames.Alert(r.AlertDescription)} alert",
                TlsFatalAlert a => $"SmtpLens raised a fatal {TlsNames.Alert(a.AlertDescription)} alert: {a.InnerException?.Message ?? a.Message}",
                EndOfStreamException => "the server closed the connection during the handshake",
                _ => $"{e.GetType().Name}: {e.Message}",
            };
        return what + (leg.Alerts.Count > 0 ? $" [alerts: {string.Join(", ", leg.Alerts.Select(a => $"{a.Alert} by {(a.RaisedBy == TlsSide.SmtpLens ? "SmtpLens" : "peer")}"))}]" : string.Empty);
    }
}
