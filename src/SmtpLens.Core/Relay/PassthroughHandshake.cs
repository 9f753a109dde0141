using System.Buffers;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Relay;

/// <summary>Records the cleartext part of a TLS handshake relayed in passthrough mode.</summary>
/// <remarks>ClientHello and ServerHello are always in the clear; the server Certificate only up to TLS 1.2.</remarks>
internal sealed class PassthroughHandshake(ITranscriptRecorder transcript, Action<TlsLegRecord> recorded)
{
    private readonly HandshakeTap _fromClient = new();
    private readonly HandshakeTap _fromServer = new();
    private readonly Lock _gate = new();
    private bool _reported;

    public void Observe(in ReadOnlySequence<byte> bytes, bool fromClient)
    {
        var tap = fromClient ? _fromClient : _fromServer;
        lock (_gate)
        {
            if (_reported || tap.Done)
            {
                return;
            }

            foreach (var segment in bytes)
            {
                tap.Observe(segment.Span);
            }
        }

        if (_fromServer.Done)
        {
            Report();
        }
    }

    /// <summary>Writes what was seen, once: when the server starts encrypting, or when the session ends.</summary>
    public void Report()
    {
        lock (_gate)
        {
            if (_reported)
            {
                return;
            }

            _reported = true;
        }

        var leg = new TlsLegRecord("passthrough", "none")
        {
            ClientHello = _fromClient.Find(1, ClientHello.Parse),
            ServerHello = _fromServer.Find(2, ServerHello.Parse),
        };
        if (leg.ClientHello is { } hello)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsClientHello, $"client offered: max {TlsNames.Version(hello.MaxVersion)}, {hello.CipherSuites.Count} suites, SNI {hello.ServerName ?? "(none)"}, JA3 {hello.Ja3Hash}", hello.ToData());
        }

        if (leg.ServerHello is { } server)
        {
            leg.Version = server.Version;
            leg.CipherSuite = server.CipherSuite;
            leg.ExtendedMasterSecret = server.ExtendedMasterSecret;
            leg.SecureRenegotiation = server.SecureRenegotiation;
            leg.Completed = true;
        }

        var certificate = _fromServer.Scanner.Messages.FirstOrDefault(m => m.Type == 11);
        if (certificate is not null && leg.Version is < 0x0304)
        {
            try
            {
                // The DER chain too: policy verdicts and revocation checks judge the certificates themselves.
                var chain = CertificateMessage.Parse(certificate);
                leg.ServerCertificatesDer = chain;
                foreach (var der in chain)
                {
                    leg.ServerCertificates.Add(CertificateSummary.FromDer(der));
                }
            }
            catch (Exception e) when (e is FormatException or System.Security.Cryptography.CryptographicException)
            {
                transcript.Record(Direction.Proxy, EventKinds.Anomaly, $"passthrough: unreadable server Certificate message: {e.Message}");
            }
        }

        for (var i = 0; i < leg.ServerCertificates.Count; i++)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsCertificate, $"upstream certificate [{i}] (seen in passthrough): {leg.ServerCertificates[i].Describe()}", leg.ServerCertificates[i].ToData());
        }

        foreach (var alert in _fromClient.Scanner.Alerts.Concat(_fromServer.Scanner.Alerts))
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsAlert, $"passthrough: cleartext alert {alert}");
        }

        var summary = leg.ServerHello is null
            ? "passthrough: no ServerHello seen" + (_fromServer.Problem is { } p ? $" ({p})" : string.Empty)
            : $"passthrough: {TlsNames.Version(leg.Version ?? 0)} {TlsNames.CipherSuite(leg.CipherSuite ?? 0)}{(leg.Version == 0x0304 ? " (TLS 1.3: certificate encrypted, not visible)" : string.Empty)}";
        transcript.Record(Direction.Proxy, leg.ServerHello is null ? EventKinds.TlsFailed : EventKinds.TlsHandshake, summary, leg.ToData());
        recorded(leg);
    }
}
