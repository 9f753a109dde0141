using System.IO.Pipelines;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;
using SmtpLens.Protocol;
using SmtpLens.Transcripts;

namespace SmtpLens.Tls;

/// <summary>The outcome of intercepting one session's TLS: two decrypted streams, or why not.</summary>
internal sealed record TlsInterception(BouncyTlsStream? Client, BouncyTlsStream? Upstream, TlsLegRecord ClientLeg, TlsLegRecord UpstreamLeg, string? Failure)
{
    public bool Succeeded => Failure is null;
}

/// <summary>Terminates the client's TLS and re-originates it upstream, recording both handshakes.</summary>
/// <remarks>Order matters: the client's ClientHello is read first (without consuming it) for its SNI and offer,
/// then the upstream handshake runs so its certificate can be mirrored, then the client handshake completes.
/// An upstream failure is turned into a matching alert to the client so the sender sees TLS fail.</remarks>
internal sealed class TlsInterceptor(TlsInterceptionOptions options, TimeProvider time)
{
    private const byte HandshakeFailure = AlertDescription.handshake_failure;

    public async Task<TlsInterception> InterceptAsync(
        PipeReader clientReader,
        Stream clientOut,
        PipeReader upstreamReader,
        Stream upstreamOut,
        string upstreamHost,
        string sessionId,
        ITranscriptRecorder transcript,
        CancellationToken cancellationToken)
    {
        var clientLeg = new TlsLegRecord("client", "server");
        var upstreamLeg = new TlsLegRecord("upstream", "client");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.HandshakeTimeout);
        var ct = timeout.Token;

        var (hello, problem) = await PeekClientHelloAsync(clientReader, () => timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested, ct);
        if (hello is null)
        {
            clientLeg.Failure = problem;
            transcript.Record(Direction.Proxy, EventKinds.TlsFailed, $"client leg: {problem}", clientLeg.ToData());
            return new TlsInterception(null, null, clientLeg, upstreamLeg, problem);
        }

        clientLeg.ClientHello = hello;
        transcript.Record(Direction.Proxy, EventKinds.TlsClientHello, DescribeOffer("client offered", hello), hello.ToData());

        var serverName = hello.ServerName ?? (System.Net.IPAddress.TryParse(upstreamHost, out _) ? null : upstreamHost);
        var upstream = await ConnectUpstreamAsync(upstreamReader, upstreamOut, serverName, upstreamLeg, sessionId, transcript, ct, cancellationToken);
        RecordLeg(transcript, upstreamLeg, "server");
        if (upstream is null)
        {
            var mirrored = upstreamLeg.Alerts.LastOrDefault(a => a.Alert.Level == 2)?.Alert.Description ?? HandshakeFailure;
            await SendAlertAsync(clientOut, mirrored, hello.RecordVersion);
            clientLeg.AddAlert(new TlsAlertEvent(new TlsAlert(2, mirrored), TlsSide.SmtpLens, true, time.GetUtcNow(), "mirrors the upstream leg's failure"));
            clientLeg.Failure = $"not completed: the upstream handshake failed ({upstreamLeg.Failure}); SmtpLens sent the client a fatal {TlsNames.Alert(mirrored)} alert";
            transcript.Record(Direction.Proxy, EventKinds.TlsFailed, "client leg: " + clientLeg.Failure, clientLeg.ToData());
            return new TlsInterception(null, null, clientLeg, upstreamLeg, "upstream TLS handshake failed: " + upstreamLeg.Failure);
        }

        TlsIdentity identity;
        try
        {
            identity = options.StaticServerIdentity
                ?? options.Authority?.ForgeFor([.. upstreamLeg.ServerCertificatesDer], serverName)
                ?? throw new InvalidOperationException("TLS interception needs a CA or a static certificate");
        }
        catch (Exception e) when (e is InvalidOperationException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            await SendAlertAsync(clientOut, AlertDescription.internal_error, hello.RecordVersion);
            clientLeg.Failure = $"cannot present a certificate: {e.Message}";
            transcript.Record(Direction.Proxy, EventKinds.TlsFailed, "client leg: " + clientLeg.Failure, clientLeg.ToData());
            return new TlsInterception(null, upstream, clientLeg, upstreamLeg, clientLeg.Failure);
        }

        var client = await AcceptClientAsync(clientReader, clientOut, identity, upstreamLeg.CipherSuite, clientLeg, sessionId, transcript, ct, cancellationToken);
        RecordLeg(transcript, clientLeg, "client");
        if (client is null)
        {
            await upstream.CloseNotifyAsync();
            return new TlsInterception(null, upstream, clientLeg, upstreamLeg, "client TLS handshake failed: " + clientLeg.Failure);
        }

        if (clientLeg.ClientCertificates.Count > 0)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsHandshake, options.StaticClientIdentity is null
                ? "note: the client presented a certificate, but the upstream sees no client certificate from SmtpLens; connector matching on the sender's certificate will differ"
                : "note: the upstream sees SmtpLens's configured client certificate, not the sender's; connector matching on certificate names will differ");
        }

        return new TlsInterception(client, upstream, clientLeg, upstreamLeg, null);
    }

    private async Task<BouncyTlsStream?> ConnectUpstreamAsync(PipeReader reader, Stream output, string? serverName, TlsLegRecord leg, string sessionId, ITranscriptRecorder transcript, CancellationToken ct, CancellationToken outer)
    {
        var tapped = new TappedStream(reader.AsStream(leaveOpen: true), output, new HandshakeTap(), new HandshakeTap());
        var events = new TlsPeerEvents(leg, time) { KeyMaterial = KeyLogWriter("upstream", sessionId), AfterHandshakeAlert = a => RecordLateAlert(transcript, leg, a) };
        var chain = new List<byte[]>();
        var peer = new UpstreamTlsClient(
            options.UpstreamPolicy,
            serverName,
            options.UpstreamClientCertificate == UpstreamClientCertificate.Static ? options.StaticClientIdentity : null,
            certificate =>
            {
                chain.AddRange(TlsPeerEvents.Der(certificate));
                leg.ServerCertificatesDer = chain;
                leg.ServerCertificates.AddRange(chain.Select(CertificateSummary.FromDer));
                UpstreamValidation.Check(leg, chain, serverName, time.GetUtcNow());
                if (options.VerifyUpstream && (leg.ChainTrusted != true || leg.NameMatches == false))
                {
                    throw new TlsFatalAlert(AlertDescription.bad_certificate, new IOException($"--verify-upstream: {leg.ChainStatus}; name {serverName} {(leg.NameMatches == false ? "does not match" : "checked")}"));
                }
            },
            events);
        var protocol = new TlsClientProtocol(new SecureRandom());
        var stream = new BouncyTlsStream(protocol, tapped, events);
        try
        {
            protocol.Connect(peer);
            await stream.HandshakeAsync(() => events.HandshakeComplete, ct);
            leg.ClientHello = tapped.Outbound.Find(1, ClientHello.Parse);
            leg.ServerHello = tapped.Inbound.Find(2, ServerHello.Parse);
            return stream;
        }
        catch (Exception e) when (IsHandshakeFailure(e))
        {
            leg.ClientHello = tapped.Outbound.Find(1, ClientHello.Parse);
            leg.ServerHello = tapped.Inbound.Find(2, ServerHello.Parse);
            leg.Failure = Describe(e, leg, ct.IsCancellationRequested && !outer.IsCancellationRequested);
            await stream.DisposeAsync();
            return null;
        }
    }

    private async Task<BouncyTlsStream?> AcceptClientAsync(PipeReader reader, Stream output, TlsIdentity identity, int? upstreamSuite, TlsLegRecord leg, string sessionId, ITranscriptRecorder transcript, CancellationToken ct, CancellationToken outer)
    {
        var tapped = new TappedStream(reader.AsStream(leaveOpen: true), output, new HandshakeTap(), new HandshakeTap());
        var events = new TlsPeerEvents(leg, time) { KeyMaterial = KeyLogWriter("client", sessionId), AfterHandshakeAlert = a => RecordLateAlert(transcript, leg, a) };
        var peer = new InterceptingTlsServer(options.ClientPolicy, identity, options.RequestClientCertificate, upstreamSuite, events);
        var protocol = new TlsServerProtocol(new SecureRandom());
        var stream = new BouncyTlsStream(protocol, tapped, events);
        leg.ServerCertificates.AddRange(TlsPeerEvents.Der(identity.Chain).Select(CertificateSummary.FromDer));
        try
        {
            protocol.Accept(peer);
            await stream.HandshakeAsync(() => events.HandshakeComplete, ct);
            leg.ServerHello = tapped.Outbound.Find(2, ServerHello.Parse);
            return stream;
        }
        catch (Exception e) when (IsHandshakeFailure(e))
        {
            leg.ServerHello = tapped.Outbound.Find(2, ServerHello.Parse);
            leg.Failure = Describe(e, leg, ct.IsCancellationRequested && !outer.IsCancellationRequested);
            await stream.DisposeAsync();
            return null;
        }
    }

    private static void RecordLateAlert(ITranscriptRecorder transcript, TlsLegRecord leg, TlsAlertEvent alert) =>
        transcript.Record(Direction.Proxy, EventKinds.TlsAlert, $"{leg.Leg} leg: {alert.Alert} alert raised by {(alert.RaisedBy == TlsSide.SmtpLens ? "SmtpLens" : $"the {leg.Leg}")} after the handshake{(IsRenegotiationRefusal(alert) ? $" (the {leg.Leg} sent a handshake message after the handshake: a renegotiation attempt, which SmtpLens refuses; the session ends)" : string.Empty)}", new Dictionary<string, object?>
        {
            ["leg"] = leg.Leg,
            ["level"] = alert.Alert.LevelName,
            ["description"] = TlsNames.Alert(alert.Alert.Description),
            ["raisedBy"] = alert.RaisedBy == TlsSide.SmtpLens ? "smtplens" : "peer",
        });

    private static bool IsRenegotiationRefusal(TlsAlertEvent alert) =>
        alert.RaisedBy == TlsSide.SmtpLens && alert.Alert.Description is AlertDescription.no_renegotiation or AlertDescription.unexpected_message or AlertDescription.handshake_failure;

    private Action<byte[], byte[]>? KeyLogWriter(string leg, string sessionId) =>
        options.KeyLog is { } log ? (random, secret) => log.Write(leg, sessionId, random, secret) : null;

    private static bool IsHandshakeFailure(Exception e) =>
        e is IOException or OperationCanceledException or TlsException or InvalidOperationException or FormatException or Org.BouncyCastle.Crypto.CryptoException or ArgumentException;

    private string Describe(Exception e, TlsLegRecord leg, bool timedOut)
    {
        if (timedOut)
        {
            return $"handshake timed out after {options.HandshakeTimeout.TotalSeconds:0} s (peer silent)";
        }

        return e switch
        {
            TlsFatalAlertReceived r => $"the peer sent a fatal {TlsNames.Alert(r.AlertDescription)} alert",
            TlsFatalAlert a => $"SmtpLens raised a fatal {TlsNames.Alert(a.AlertDescription)} alert: {a.InnerException?.Message ?? a.Message}",
            EndOfStreamException => "the peer closed the connection during the handshake",
            _ => $"{e.GetType().Name}: {e.Message}",
        } + (leg.Alerts.Count > 0 ? $" [alerts: {string.Join(", ", leg.Alerts.Select(a => $"{a.Alert} by {(a.RaisedBy == TlsSide.SmtpLens ? "SmtpLens" : "peer")}"))}]" : string.Empty);
    }

    /// <summary>A fatal alert record written in the clear, before any keys exist on that leg.</summary>
    private static async Task SendAlertAsync(Stream output, byte description, int recordVersion)
    {
        var version = recordVersion is >= 0x0301 and <= 0x0303 ? recordVersion : 0x0303;
        byte[] record = [21, (byte)(version >> 8), (byte)version, 0, 2, 2, description];
        try
        {
            await output.WriteAsync(record);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // The client is already gone.
        }
    }

    internal static void RecordLeg(ITranscriptRecorder transcript, TlsLegRecord leg, string certificateOwner)
    {
        foreach (var alert in leg.Alerts)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsAlert, $"{leg.Leg} leg: {alert.Alert} alert raised by {(alert.RaisedBy == TlsSide.SmtpLens ? "SmtpLens" : $"the {(leg.Leg == "client" ? "client" : "upstream")}")}{(alert.DuringHandshake ? " during the handshake" : " after the handshake")}{(alert.Message is null ? string.Empty : $": {alert.Message}")}");
        }

        var certificates = certificateOwner == "server" ? leg.ServerCertificates : leg.ClientCertificates;
        for (var i = 0; i < certificates.Count; i++)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsCertificate, $"{leg.Leg} leg {(leg.Leg == "client" ? "SmtpLens" : "upstream")} certificate [{i}]: {certificates[i].Describe()}", certificates[i].ToData());
        }

        if (leg.Leg == "client")
        {
            for (var i = 0; i < leg.ClientCertificates.Count; i++)
            {
                transcript.Record(Direction.Proxy, EventKinds.TlsCertificate, $"client leg client certificate [{i}]: {leg.ClientCertificates[i].Describe()}", leg.ClientCertificates[i].ToData());
            }
        }

        if (leg.Leg == "upstream" && leg.ChainStatus is not null)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsHandshake, $"upstream certificate validation (recorded, not enforced unless --verify-upstream): chain {(leg.ChainTrusted == true ? "trusted" : "NOT trusted")} ({leg.ChainStatus}); name {leg.NameChecked ?? "(none)"} {(leg.NameMatches == true ? "matches" : leg.NameMatches == false ? "does NOT match" : "not checked")}");
        }

        if (leg.Leg == "upstream" && leg.ClientHello is { } offered)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsClientHello, DescribeOffer("SmtpLens offered upstream", offered), offered.ToData());
        }

        transcript.Record(Direction.Proxy, leg.Completed ? EventKinds.TlsHandshake : EventKinds.TlsFailed, leg.Summary(), leg.ToData());
    }

    private static string DescribeOffer(string who, ClientHello hello) =>
        $"{who}: max {TlsNames.Version(hello.MaxVersion)}, {hello.CipherSuites.Count} suites (first {string.Join(", ", hello.CipherSuites.Take(3).Select(TlsNames.CipherSuite))}), SNI {hello.ServerName ?? "(none)"}, JA3 {hello.Ja3Hash}";

    /// <summary>Reads the ClientHello without consuming it, across however many records and reads it takes.</summary>
    private static async Task<(ClientHello? Hello, string? Problem)> PeekClientHelloAsync(PipeReader reader, Func<bool> timedOut, CancellationToken ct)
    {
        while (true)
        {
            ReadResult read;
            try
            {
                read = await reader.ReadAsync(ct);
            }
            catch (OperationCanceledException) when (timedOut())
            {
                return (null, "handshake timed out waiting for the client's ClientHello (client silent)");
            }

            var buffer = read.Buffer;
            var scanner = new TlsRecordScanner();
            var rest = buffer;
            var status = scanner.Scan(ref rest);
            if (status is RecordScanStatus.NotTls or RecordScanStatus.Oversized)
            {
                var shown = buffer.Length > 64 ? buffer.Slice(0, 64) : buffer;
                reader.AdvanceTo(buffer.Start);
                return (null, $"expected a TLS ClientHello, got {scanner.Problem}: \"{AsciiText.Escape(shown)}\"");
            }

            if (scanner.Messages.Count > 0)
            {
                reader.AdvanceTo(buffer.Start);
                var first = scanner.Messages[0];
                if (first.Type != 1)
                {
                    return (null, $"expected a ClientHello, got handshake message type {first.Type}");
                }

                try
                {
                    return (ClientHello.Parse(first), null);
                }
                catch (FormatException e)
                {
                    return (null, $"malformed ClientHello: {e.Message}");
                }
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                return (null, buffer.IsEmpty ? "the client closed the connection instead of starting TLS" : $"the client closed the connection in the middle of its ClientHello ({buffer.Length} bytes received)");
            }
        }
    }
}
