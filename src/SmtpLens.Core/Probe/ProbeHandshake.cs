using SmtpLens.Tls;
using SmtpLens.Tls.Engine;

namespace SmtpLens.Probe;

/// <summary>The probe's TLS client: the proxy's upstream-leg client, taps and validation, without enforcement.</summary>
/// <remarks>Nothing is refused here: an expired or untrusted certificate is what the admin came to see, so it is
/// recorded for the detectors and the handshake goes on.</remarks>
internal static class ProbeHandshake
{
    public static async Task<BouncyTlsStream?> ConnectAsync(Stream input, Stream output, TlsPolicy policy, string? serverName, TlsLegRecord leg, TimeProvider time, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var tapped = new TappedStream(input, output, new HandshakeTap(), new HandshakeTap());
        var chain = new List<byte[]>();
        using var deadline = new StepDeadline(timeout, time, cancellationToken);
        try
        {
            var stream = await TlsEngine.ConnectAsync(
                tapped,
                policy,
                serverName,
                leg,
                time,
                received =>
                {
                    chain.AddRange(received);
                    leg.ServerCertificatesDer = chain;
                    leg.ServerCertificates.AddRange(chain.Select(CertificateSummary.FromDer));
                    UpstreamValidation.Check(leg, chain, serverName, time.GetUtcNow());
                },
                deadline.Token);
            leg.ClientHello = tapped.Outbound.Find(1, ClientHello.Parse);
            leg.ServerHello = tapped.Inbound.Find(2, ServerHello.Parse);
            return stream;
        }
        catch (Exception e) when (TlsEngine.IsHandshakeFailure(e))
        {
            if (e is OperationCanceledException && !deadline.Expired)
            {
                throw;
            }

            leg.ClientHello = tapped.Outbound.Find(1, ClientHello.Parse);
            leg.ServerHello = tapped.Inbound.Find(2, ServerHello.Parse);
            leg.Failure = Describe(e, leg, deadline.Expired, timeout);
            return null;
        }
    }

    private static string Describe(Exception e, TlsLegRecord leg, bool timedOut, TimeSpan timeout)
    {
        var what = timedOut
            ? $"handshake timed out after {timeout.TotalSeconds:0} s (server silent)"
            : TlsEngine.DescribeAlert(e, "server") ?? e switch
            {
                EndOfStreamException => "the server closed the connection during the handshake",
                _ => $"{e.GetType().Name}: {e.Message}",
            };
        return what + (leg.Alerts.Count > 0 ? $" [alerts: {string.Join(", ", leg.Alerts.Select(a => $"{a.Alert} by {(a.RaisedBy == TlsSide.SmtpLens ? "SmtpLens" : "peer")}"))}]" : string.Empty);
    }
}
