using System.IO.Pipelines;
using Org.BouncyCastle.Tls;
using SmtpLens.IO;
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
    private const byte HandshakeFailure = (byte)AlertDescription.handshake_failure;
    private readonly UpstreamChainCache _upstreamChains = new();
    private readonly ClientSessionCache _clientSessions = new(time);

    public async Task<TlsInterception> InterceptAsync(
        PipeReader clientReader,
        Stream clientOut,
        PipeReader upstreamReader,
        Stream upstreamOut,
        string upstreamHost,
        string sessionId,
        ITranscriptRecorder transcript,
        Action<string, byte[], byte[]>? sessionSecrets,
        CancellationToken cancellationToken)
    {
        var clientLeg = new TlsLegRecord("client", "server");
        var upstreamLeg = new TlsLegRecord("upstream", "client");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.HandshakeTimeout);
        var ct = timeout.Token;

        var (hello, problem) = await PeekClientHelloAsync(clientReader, () => timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested, ct);

        // Certificate forging and the handshakes take milliseconds of CPU: not on a socket event thread.
        await ThreadPoolHop.OffEventThread;
        if (hello is null)
        {
            clientLeg.Failure = problem;
            transcript.Record(Direction.Proxy, EventKinds.TlsFailed, $"client leg: {problem}", clientLeg.ToData());
            return new TlsInterception(null, null, clientLeg, upstreamLeg, problem);
        }

        clientLeg.ClientHello = hello;
        clientLeg.PskAttempted = hello.AttemptsPskResumption;
        transcript.Record(Direction.Proxy, EventKinds.TlsClientHello, DescribeOffer("client offered", hello), hello.ToData());

        var serverName = hello.ServerName ?? (System.Net.IPAddress.TryParse(upstreamHost, out _) ? null : upstreamHost);
        var mirror = options.UpstreamClientCertificate == UpstreamClientCertificate.Mirror;
        var upstreamCertificate = new TaskCompletionSource<(IReadOnlyList<byte[]> Chain, int? Suite, int? Version)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var senderChain = new TaskCompletionSource<IReadOnlyList<byte[]>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamTask = ConnectUpstreamAsync(
            upstreamReader,
            upstreamOut,
            serverName,
            hello,
            upstreamLeg,
            sessionId,
            transcript,
            sessionSecrets,
            (chain, suite, version) => upstreamCertificate.TrySetResult((chain, suite, version)),
            mirror ? senderChain.Task : null,
            ct,
            cancellationToken);

        // Mirroring needs the sender's certificate before the upstream handshake can finish, so the client leg
        // starts as soon as the upstream's certificate is known; otherwise the upstream leg completes first.
        if (mirror)
        {
            await Task.WhenAny(upstreamTask, upstreamCertificate.Task);
        }

        BouncyTlsStream? upstream = null;
        if (!mirror || upstreamTask.IsCompleted)
        {
            upstream = await upstreamTask;
            RecordLeg(transcript, upstreamLeg);
            if (upstream is null)
            {
                var mirrored = MirroredAlert(upstreamLeg);
                await SendAlertAsync(clientOut, mirrored, hello.RecordVersion);
                clientLeg.AddAlert(new TlsAlertEvent(new TlsAlert(2, mirrored), TlsSide.SmtpLens, true, time.GetUtcNow(), "mirrors the upstream leg's failure"));
                clientLeg.Failure = $"not completed: the upstream handshake failed ({upstreamLeg.Failure}); SmtpLens sent the client a fatal {TlsNames.Alert(mirrored)} alert";
                transcript.Record(Direction.Proxy, EventKinds.TlsFailed, "client leg: " + clientLeg.Failure, clientLeg.ToData());
                return new TlsInterception(null, null, clientLeg, upstreamLeg, "upstream TLS handshake failed: " + upstreamLeg.Failure);
            }
        }

        var (upstreamChain, upstreamSuite, upstreamVersion) = upstream is null ? await upstreamCertificate.Task : (upstreamLeg.ServerCertificatesDer, upstreamLeg.CipherSuite, upstreamLeg.Version);
        TlsIdentity identity;
        try
        {
            identity = options.StaticServerIdentity
                ?? options.Authority?.ForgeFor(upstreamChain, serverName, ForgedLeafKey.AcceptsEcdsa(hello, options.ClientPolicy, upstreamVersion, upstreamSuite))
                ?? throw new InvalidOperationException("TLS interception needs a CA or a static certificate");
        }
        catch (Exception e) when (e is InvalidOperationException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            await SendAlertAsync(clientOut, (byte)AlertDescription.internal_error, hello.RecordVersion);
            clientLeg.Failure = $"cannot present a certificate: {e.Message}";
            transcript.Record(Direction.Proxy, EventKinds.TlsFailed, "client leg: " + clientLeg.Failure, clientLeg.ToData());
            senderChain.TrySetResult([]);
            return new TlsInterception(null, upstream ?? await upstreamTask, clientLeg, upstreamLeg, clientLeg.Failure);
        }

        var clientEvents = new TlsPeerEvents(clientLeg, time) { KeyMaterial = KeyLogWriter("client", sessionId, sessionSecrets) };
        clientEvents.AfterHandshakeAlert = a => RecordLateAlert(transcript, clientLeg, a);
        // A held upstream leg is waiting on its CertificateRequest: the sender is asked for a certificate exactly when
        // the upstream asked SmtpLens for one (or always, with --request-client-cert).
        var askClient = options.AsksClientForCertificate(upstream is null || upstreamLeg.ClientCertificateRequested);
        // A resumed handshake carries no client certificate, which asking (and mirroring) needs: those legs never resume.
        var resumption = askClient ? null : new ClientSessionResumption(_clientSessions, ClientSessionCache.Binding(upstreamHost, hello.ServerName, identity), identity.Summaries[0].NotAfter);
        var client = await AcceptClientAsync(clientReader, clientOut, identity, upstreamSuite, upstreamVersion, upstreamLeg.Group, askClient, resumption, clientEvents, chain => senderChain.TrySetResult(chain), ct, cancellationToken);
        senderChain.TrySetResult([]);
        RecordLeg(transcript, clientLeg);
        if (upstream is null)
        {
            upstream = await upstreamTask;
            RecordLeg(transcript, upstreamLeg);
            if (upstream is null && client is not null)
            {
                // The sender already finished its handshake; it must still see TLS fail, not a clean close.
                var mirrored = MirroredAlert(upstreamLeg);
                clientEvents.AfterHandshakeAlert = null;
                await client.AbortAsync(mirrored, "the upstream handshake failed");
                transcript.Record(Direction.Proxy, EventKinds.TlsFailed, $"client leg: completed, but the upstream handshake then failed ({upstreamLeg.Failure}); SmtpLens ended the client's TLS session with a fatal {TlsNames.Alert(mirrored)} alert");
                return new TlsInterception(null, null, clientLeg, upstreamLeg, "upstream TLS handshake failed: " + upstreamLeg.Failure);
            }
        }

        if (client is null)
        {
            if (upstream is not null)
            {
                await upstream.CloseNotifyAsync();
            }

            return new TlsInterception(null, upstream, clientLeg, upstreamLeg, "client TLS handshake failed: " + clientLeg.Failure);
        }

        if (upstream is null)
        {
            return new TlsInterception(null, null, clientLeg, upstreamLeg, "upstream TLS handshake failed: " + upstreamLeg.Failure);
        }

        RecordClientCertificateNote(transcript, clientLeg, upstreamLeg);
        return new TlsInterception(client, upstream, clientLeg, upstreamLeg, null);
    }

    private static byte MirroredAlert(TlsLegRecord upstreamLeg) =>
        upstreamLeg.Alerts.LastOrDefault(a => a.Alert.Level == 2)?.Alert.Description ?? HandshakeFailure;

    /// <summary>Mirror mode, TLS 1.2: once the upstream's ServerHelloDone has arrived after a CertificateRequest,
    /// hold the upstream handshake until the client leg has the sender's certificate to mirror.</summary>
    /// <remarks>BouncyCastle asks for client credentials synchronously while processing ServerHelloDone, so
    /// waiting there would block a pool thread; waiting here, before it sees those bytes, blocks nothing.</remarks>
    private static async Task HoldForSenderAsync(HandshakeTap inbound, Task<IReadOnlyList<byte[]>> senderChain, Action<IReadOnlyList<byte[]>, int?, int?> certificateKnown, CancellationToken ct)
    {
        var messages = inbound.Scanner.Messages;
        if (senderChain.IsCompleted || !messages.Any(m => m.Type == 14) || !messages.Any(m => m.Type == 13))
        {
            return;
        }

        IReadOnlyList<byte[]> chain = [];
        if (messages.FirstOrDefault(m => m.Type == 11) is { } certificate)
        {
            try
            {
                chain = CertificateMessage.Parse(certificate);
            }
            catch (FormatException)
            {
                // BouncyCastle will reject the same bytes with a proper alert.
            }
        }

        var serverHello = inbound.Find(2, ServerHello.Parse);
        certificateKnown(chain, serverHello?.CipherSuite, serverHello?.Version);
        await senderChain.WaitAsync(ct);
    }

    /// <summary>Mirror mode, any version: after each upstream record the engine has processed, hold once it has seen
    /// the CertificateRequest and the upstream's certificate, before the record that carries the Finished.</summary>
    /// <remarks>TLS 1.3 encrypts both messages, so only the engine knows; BouncyCastle asks for the client's
    /// credentials while processing the server's Finished, so the hold must come before that record.</remarks>
    private static async Task HoldAfterRecordAsync(UpstreamTlsClientProtocol protocol, UpstreamTlsClient peer, IReadOnlyList<byte[]> chain, Task<IReadOnlyList<byte[]>> senderChain, Action<IReadOnlyList<byte[]>, int?, int?> certificateKnown, CancellationToken ct)
    {
        if (senderChain.IsCompleted || !protocol.CertificateRequested || chain.Count == 0)
        {
            return;
        }

        certificateKnown(chain, peer.SelectedCipherSuite, peer.SelectedVersion);
        await senderChain.WaitAsync(ct);
    }

    private void RecordClientCertificateNote(ITranscriptRecorder transcript, TlsLegRecord clientLeg, TlsLegRecord upstreamLeg)
    {
        var sender = clientLeg.ClientCertificates.Count > 0 ? clientLeg.ClientCertificates[0] : null;
        var presented = upstreamLeg.ClientCertificates.Count > 0 ? upstreamLeg.ClientCertificates[0] : null;
        string? note = (options.UpstreamClientCertificate, upstreamLeg.ClientCertificateRequested) switch
        {
            (UpstreamClientCertificate.Mirror, true) when presented is not null =>
                $"note: the upstream asked for a client certificate and sees SmtpLens's forged copy of the sender's (CN={presented.CommonName ?? "(none)"}, same SANs, issued by \"{presented.Issuer}\"), not the sender's own; connectors that match on issuer or thumbprint will differ",
            (UpstreamClientCertificate.Mirror, true) => "note: the upstream asked for a client certificate; the sender presented none, so SmtpLens presented none either",
            (UpstreamClientCertificate.Static, true) when presented is not null =>
                $"note: the upstream asked for a client certificate and sees SmtpLens's configured one (CN={presented.CommonName ?? "(none)"}), not the sender's; connector matching on certificate names will differ",
            (_, true) when sender is not null => "note: the upstream asked for a client certificate and SmtpLens presented none, although the sender presented one; connector matching on the sender's certificate will differ",
            (_, false) when sender is not null => "note: the sender presented a client certificate; the upstream did not ask for one, so it sees none",
            _ => null,
        };
        if (note is not null)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsHandshake, note);
        }
    }

    /// <param name="certificateKnown">Called with the upstream's chain, chosen suite and version as soon as they are known.</param>
    /// <param name="senderChain">Mirror mode: the sending MTA's certificate chain, once the client leg has it.</param>
    private async Task<BouncyTlsStream?> ConnectUpstreamAsync(
        PipeReader reader,
        Stream output,
        string? serverName,
        ClientHello senderHello,
        TlsLegRecord leg,
        string sessionId,
        ITranscriptRecorder transcript,
        Action<string, byte[], byte[]>? sessionSecrets,
        Action<IReadOnlyList<byte[]>, int?, int?> certificateKnown,
        Task<IReadOnlyList<byte[]>>? senderChain,
        CancellationToken ct,
        CancellationToken outer)
    {
        var tapped = new TappedStream(reader.AsStream(leaveOpen: true), output, new HandshakeTap(), new HandshakeTap());
        var authority = options.Authority;
        var senderUnknownAtRequest = false;
        Func<TlsIdentity?>? mirrored = senderChain is null || authority is null
            ? null
            : () =>
            {
                senderUnknownAtRequest = !senderChain.IsCompleted;
                return senderChain is { IsCompletedSuccessfully: true, Result: { Count: > 0 } chain } ? authority.ForgeClientFor(chain) : null;
            };
        var events = new TlsPeerEvents(leg, time) { KeyMaterial = KeyLogWriter("upstream", sessionId, sessionSecrets), AfterHandshakeAlert = a => RecordLateAlert(transcript, leg, a) };
        var chain = new List<byte[]>();
        var crypto = events.CreateCrypto();
        var peer = new UpstreamTlsClient(
            crypto,
            options.UpstreamPolicy,
            serverName,
            options.UpstreamClientCertificate == UpstreamClientCertificate.Static ? options.StaticClientIdentity : null,
            certificate =>
            {
                chain.AddRange(TlsPeerEvents.Der(certificate));
                leg.ServerCertificatesDer = chain;
                var seen = _upstreamChains.For(chain);
                leg.ServerCertificates.AddRange(seen.Summaries);
                UpstreamValidation.Check(leg, chain, serverName, time.GetUtcNow(), options.UpstreamTrustAnchors, seen);
                if (options.VerifyUpstream && (leg.ChainTrusted != true || leg.NameMatches == false))
                {
                    throw new TlsFatalAlert(AlertDescription.bad_certificate, new IOException($"--verify-upstream: {leg.ChainStatus}; name {serverName} {(leg.NameMatches == false ? "does not match" : "checked")}"));
                }
            },
            events,
            mirrored)
        {
            Mirror = senderHello,
        };
        var protocol = new UpstreamTlsClientProtocol();
        var stream = new BouncyTlsStream(protocol, tapped, events);
        try
        {
            protocol.Connect(peer);
            await stream.HandshakeAsync(
                () => events.HandshakeComplete,
                ct,
                senderChain is null ? null : token => HoldForSenderAsync(tapped.Inbound, senderChain, certificateKnown, token),
                senderChain is null ? null : token => HoldAfterRecordAsync(protocol, peer, chain, senderChain, certificateKnown, token));
            if (senderUnknownAtRequest)
            {
                transcript.Record(Direction.Proxy, EventKinds.TlsHandshake, "note: the upstream sent its CertificateRequest and its Finished in one TLS record, so SmtpLens had to answer before the sender's certificate was known; it presented none upstream");
            }

            RecordHellos(leg, tapped.Outbound, tapped.Inbound);
            leg.NotOfferedUpstream = [.. peer.NotOfferedUpstream.Distinct()];
            leg.ClientCertificates.AddRange((peer.PresentedIdentity?.ChainDer ?? []).Select(CertificateSummary.FromDer));
            return stream;
        }
        catch (Exception e) when (IsHandshakeFailure(e))
        {
            RecordHellos(leg, tapped.Outbound, tapped.Inbound);
            leg.NotOfferedUpstream = [.. peer.NotOfferedUpstream.Distinct()];
            leg.ClientCertificates.AddRange((peer.PresentedIdentity?.ChainDer ?? []).Select(CertificateSummary.FromDer));
            leg.Failure = Describe(e, leg, ct.IsCancellationRequested && !outer.IsCancellationRequested);
            await stream.DisposeAsync();
            return null;
        }
    }

    private async Task<BouncyTlsStream?> AcceptClientAsync(PipeReader reader, Stream output, TlsIdentity identity, int? upstreamSuite, int? upstreamVersion, int? upstreamGroup, bool askClient, ClientSessionResumption? resumption, TlsPeerEvents events, Action<IReadOnlyList<byte[]>> clientCertificateSeen, CancellationToken ct, CancellationToken outer)
    {
        var leg = events.Record;
        var tapped = new TappedStream(reader.AsStream(leaveOpen: true), output, new HandshakeTap(), new HandshakeTap());
        var peer = new InterceptingTlsServer(events.CreateCrypto(), options.ClientPolicy, identity, askClient, upstreamSuite, events, clientCertificateSeen) { UpstreamVersion = upstreamVersion, UpstreamGroup = upstreamGroup, Resumption = resumption };
        var protocol = new AbortableTlsServerProtocol();
        var stream = new BouncyTlsStream(protocol, tapped, events);
        leg.ServerCertificates.AddRange(identity.Summaries);
        try
        {
            protocol.Accept(peer);
            await stream.HandshakeAsync(() => events.HandshakeComplete, ct);
            RecordHellos(leg, null, tapped.Outbound);
            if (leg.CipherSuite is { } suite && TlsPolicy.IsAnonymous(suite))
            {
                // An anonymous suite sends no certificate: none was presented.
                leg.ServerCertificates.Clear();
            }

            return stream;
        }
        catch (Exception e) when (IsHandshakeFailure(e))
        {
            RecordHellos(leg, null, tapped.Outbound);
            leg.Failure = Describe(e, leg, ct.IsCancellationRequested && !outer.IsCancellationRequested);
            await stream.DisposeAsync();
            return null;
        }
    }

    /// <summary>The hellos as seen on the wire; a HelloRetryRequest is noted, not taken for the final ServerHello.</summary>
    private static void RecordHellos(TlsLegRecord leg, HandshakeTap? clientSide, HandshakeTap serverSide)
    {
        if (clientSide is not null)
        {
            leg.ClientHello = clientSide.Find(1, ClientHello.Parse);
        }

        var first = serverSide.Find(2, ServerHello.Parse);
        leg.HelloRetryRequest = first?.IsHelloRetryRequest == true;
        leg.ServerHello = leg.HelloRetryRequest
            ? serverSide.Scanner.Messages.Where(m => m.Type == 2).Select(TryParseServerHello).LastOrDefault(h => h is { IsHelloRetryRequest: false })
            : first;

        // BouncyCastle reports the group only for TLS 1.3; a TLS 1.2 ECDHE curve is in the cleartext ServerKeyExchange.
        if (leg.Group is null && leg.ServerHello is { Version: < 0x0304 } hello && TlsNames.CipherSuite(hello.CipherSuite).Contains("_ECDHE_", StringComparison.Ordinal)
            && serverSide.Scanner.Messages.FirstOrDefault(m => m.Type == 12) is { } keyExchange)
        {
            leg.Group = ServerKeyExchange.EcdheGroup(keyExchange);
        }
    }

    private static ServerHello? TryParseServerHello(HandshakeMessage message)
    {
        try
        {
            return ServerHello.Parse(message);
        }
        catch (FormatException)
        {
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
        alert.RaisedBy == TlsSide.SmtpLens && (short)alert.Alert.Description is AlertDescription.no_renegotiation or AlertDescription.unexpected_message or AlertDescription.handshake_failure;

    private Action<string, byte[], byte[]>? KeyLogWriter(string leg, string sessionId, Action<string, byte[], byte[]>? sessionSecrets)
    {
        // The --keylog file, and the session's own capture (--pcap), which embeds the same lines.
        var log = options.KeyLog;
        var capture = sessionSecrets;
        return log is null && capture is null ? null : (label, random, secret) =>
        {
            log?.Write(leg, sessionId, label, random, secret);
            capture?.Invoke(label, random, secret);
        };
    }

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

    internal static void RecordLeg(ITranscriptRecorder transcript, TlsLegRecord leg)
    {
        foreach (var alert in leg.Alerts)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsAlert, $"{leg.Leg} leg: {alert.Alert} alert raised by {(alert.RaisedBy == TlsSide.SmtpLens ? "SmtpLens" : $"the {(leg.Leg == "client" ? "client" : "upstream")}")}{(alert.DuringHandshake ? " during the handshake" : " after the handshake")}{(alert.Message is null ? string.Empty : $": {alert.Message}")}");
        }

        var server = leg.Leg == "client" ? "client leg SmtpLens certificate" : "upstream leg upstream certificate";
        for (var i = 0; i < leg.ServerCertificates.Count; i++)
        {
            transcript.Record(Direction.Proxy, EventKinds.TlsCertificate, $"{server} [{i}]: {leg.ServerCertificates[i].Describe()}", leg.ServerCertificates[i].ToData());
        }

        for (var i = 0; i < leg.ClientCertificates.Count; i++)
        {
            var who = leg.Leg == "client" ? "client leg client certificate" : "upstream leg SmtpLens client certificate";
            transcript.Record(Direction.Proxy, EventKinds.TlsCertificate, $"{who} [{i}]: {leg.ClientCertificates[i].Describe()}", leg.ClientCertificates[i].ToData());
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
