using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using SmtpLens.Capture;
using SmtpLens.Connectors;
using SmtpLens.Findings;
using SmtpLens.IO;
using SmtpLens.Net;
using SmtpLens.Policy;
using SmtpLens.Protocol;
using SmtpLens.Simulation;
using SmtpLens.StateMachine;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Relay;

/// <summary>One client connection and its own upstream connection, relayed byte for byte.</summary>
/// <remarks>Two pumps, one per direction, share one activity timeout. Each returns a result naming the side
/// that stopped instead of throwing, so the session can close the other side and say why.</remarks>
internal sealed partial class SmtpSession : IAsyncDisposable
{
    // Zero-byte reads (as Kestrel does): a leg waits for data before it rents a buffer, and the pipe returns its
    // buffers once everything read is consumed, so an idle session holds no read buffer.
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true, useZeroByteReads: true);
    private readonly Socket _client;
    private readonly SessionContext _context;
    private readonly SessionTranscript _transcript;
    private readonly SmtpDialogue _dialogue;
    private readonly SessionFindings _findings;
    private readonly SessionConnector? _connector;
    private readonly SessionRevocation? _revocation;
    private readonly SessionPolicies _policies;
    private bool _closeDeferred;
    private readonly ILogger _log;
    private readonly long _started;
    private readonly List<TlsLegRecord> _tlsLegs = [];
    private readonly ConnectionOrigin _origin;
    private readonly HostPort _upstreamTarget;
    private readonly SessionCapture? _capture;
    private long _bytesFromClient;

    // Set where the dialogue cannot know the stage: no upstream connection, or inside a TLS handshake.
    private string? _endStage;
    private string? _endSide;
    private long _bytesFromUpstream;

    public SmtpSession(Socket client, string sessionId, SessionContext context, ConnectionOrigin? origin = null)
    {
        _client = client;
        _context = context;
        _log = context.Log;
        _started = context.Time.GetTimestamp();
        _origin = origin ?? ConnectionOrigin.Direct(client);
        _upstreamTarget = _origin.OriginalDestination is { } destination ? new HostPort(destination.Address.ToString(), destination.Port) : context.Listener.Upstream;
        var info = new SessionInfo(sessionId, context.Listener.Name, _origin.Client, client.LocalEndPoint)
        {
            UpstreamName = _origin.OriginalDestination is null ? context.Listener.UpstreamText : _upstreamTarget.ToString(),
            ClientSeen = _origin.ClientSeen,
            OriginalDestination = _origin.OriginalDestination,
            Route = context.Listener.Route.Name(),
        };
        _transcript = new SessionTranscript(info, context.Transcripts, context.Time, e => _log.LogError("{SessionId} cannot write transcript files under {Directory}: {Error}; the session is relayed without them", sessionId, context.Transcripts.Directory, e.Message), _log);
        _findings = new SessionFindings(_transcript, context.FindingsLog);
        _connector = context.Connectors?.Attach(_transcript, _findings);
        _revocation = context.Revocation is { } checker ? new SessionRevocation(checker, _transcript) : null;
        _capture = context.PcapDirectory is { } pcap
            ? new SessionCapture(pcap, sessionId, context.Transcripts.FileMode, context.Time, e => _log.LogError("{SessionId} cannot write its capture under {Directory}: {Error}; the session is relayed without it", sessionId, pcap, e.Message))
            : null;
        _policies = new SessionPolicies(_transcript, context.Policies, context.PolicyLookups, context.Time, context.FindingsLog);
        _dialogue = new SmtpDialogue(_transcript, new DialogueOptions
        {
            MaxLineLength = context.Relay.MaxLineLength,
            Redact = context.Transcripts.Redact,
            MaxHeaderBytes = context.Transcripts.MaxHeaderBytes,
            OpenCapture = _transcript.OpenMessageCapture,
        });
    }

    public SessionTranscript Transcript => _transcript;

    public string SessionId => _transcript.Info.SessionId;

    public async Task<SessionSummary> RunAsync(CancellationToken shutdown)
    {
        var info = _transcript.Info;
        _transcript.Record(Direction.Proxy, EventKinds.Connect, $"client {info.ClientEndPoint} connected to listener {info.ListenerName} ({info.ListenEndPoint}){TransparentNote()}", new Dictionary<string, object?>
        {
            ["client"] = info.ClientEndPoint?.ToString(),
            ["listen"] = info.ListenEndPoint?.ToString(),
            ["listener"] = info.ListenerName,
            ["redact"] = _context.Transcripts.Redact,
            ["clientSeen"] = info.ClientSeen?.ToString(),
            ["route"] = info.Route,
            ["originalDestination"] = info.OriginalDestination?.ToString(),
        });
        RecordProxyHeader();
        _log.LogInformation("{SessionId} start {Client} -> listener {Listener}, upstream {Upstream}", SessionId, info.ClientEndPoint, info.ListenerName, info.UpstreamName);

        SessionEndReason reason;
        string detail;
        try
        {
            if (_capture is not null)
            {
                // The client's connection was accepted before the session began: its handshake opens the capture.
                await _capture.OpenAsync(CaptureLeg.Client, _client.LocalEndPoint, _client.RemoteEndPoint);
            }

            (reason, detail) = await RelayAsync(shutdown);
        }
        catch (Exception e)
        {
            // A bug must cost one session, never the listener.
            _log.LogError(e, "{SessionId} internal error", SessionId);
            _transcript.Record(Direction.Proxy, EventKinds.Error, $"internal error: {e.GetType().Name}: {e.Message}");
            (reason, detail) = (SessionEndReason.InternalError, e.Message);
        }
        finally
        {
            // Closing files and logging block: off the socket event thread the last read completed on.
            await ThreadPoolHop.OffEventThread;
            _client.Dispose();
        }

        if (_capture is not null)
        {
            await _capture.CompleteAsync(aborted: reason is not (SessionEndReason.Quit or SessionEndReason.ClientClosed or SessionEndReason.UpstreamClosed));
        }

        _dialogue.Close(reason.ToString());
        await EvaluatePoliciesAsync(shutdown);

        // The disconnect event completes the findings (end-of-session detectors), so the summary can carry them.
        var stage = _endStage ?? _dialogue.Stage;
        var side = _endSide ?? SideOf(reason);
        _transcript.Record(Direction.Proxy, EventKinds.Disconnect, $"session ended: {reason} at stage {stage}, {side} side ({detail})", new Dictionary<string, object?> { ["end"] = reason.ToString(), ["stage"] = stage, ["side"] = side });
        var summary = new SessionSummary(
            SessionId,
            info.ListenerName,
            info.ClientEndPoint?.ToString() ?? "?",
            info.UpstreamEndPoint?.ToString() ?? info.UpstreamName,
            _dialogue.ClientHelo,
            _dialogue.Greeting?.RawLines[0],
            _dialogue.UpstreamEhlo?.Keywords.Select(k => k.Parameters.Length > 0 ? $"{k.Keyword} {k.Parameters}" : k.Keyword).ToList() ?? [],
            _dialogue.Transactions,
            Interlocked.Read(ref _bytesFromClient),
            Interlocked.Read(ref _bytesFromUpstream),
            _context.Time.GetElapsedTime(_started),
            reason,
            detail)
        {
            TlsLegs = [.. _tlsLegs],
            Findings = _findings.Findings,
            Connector = _connector?.Describe(),
            Revocation = _revocation?.Lines ?? [],
            Policies = _policies.Verdicts,
            ClientSeen = info.ClientSeen?.ToString(),
            Route = info.Route,
            OriginalDestination = info.OriginalDestination?.ToString(),
            UpstreamSource = info.UpstreamSource?.ToString(),
        };
        _transcript.Record(Direction.Proxy, EventKinds.Summary, "summary", summary.ToData());
        if (_revocation?.Settled is { IsCompleted: false } settled)
        {
            // No session waits for a CRL: the transcript stays open for the late results and closes when they are in.
            _closeDeferred = true;
            _context.Revocation!.Track(CloseWhenSettledAsync(settled));
        }
        else
        {
            await _transcript.DisposeAsync();
        }

        _log.LogInformation("{SessionId} {Summary}", SessionId, summary.ToLogLine());
        return summary;
    }

    /// <summary>The tls-policy verdicts, once the upstream leg is known: after the relay, so lookups never delay it.</summary>
    private async Task EvaluatePoliciesAsync(CancellationToken shutdown)
    {
        var upstreamLeg = _tlsLegs.LastOrDefault(l => l.Leg is "upstream" or "passthrough");
        try
        {
            // The client is gone already: waiting here for the CRL (bounded) delays only the summary, never the mail.
            var revocation = _revocation is null ? null : await _revocation.ForPoliciesAsync(_context.Revocation!.VerdictWait, _context.Time, shutdown);
            await _policies.CompleteAsync(_upstreamTarget.Host, _context.Listener.ImplicitTls, upstreamLeg, shutdown, revocation);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            // Shutting down: the session ends without verdicts rather than waiting on lookups.
        }
    }

    private async Task<(SessionEndReason, string)> RelayAsync(CancellationToken shutdown)
    {
        if (RefuseOrigin() is { } refused)
        {
            if (refused.Item1 == SessionEndReason.NoOriginalDestination)
            {
                await SendProxyReplyAsync("421 4.4.0 SmtpLens: no original destination for this connection (not redirected to SmtpLens)");
            }

            return refused;
        }

        var upstreamAddress = _upstreamTarget;
        var spoofed = _context.Listener.SpoofSource ? _origin.Client : null;
        Socket upstream;
        try
        {
            upstream = await UpstreamConnector.ConnectAsync(upstreamAddress, _context.Relay.ConnectTimeout, _context.Time, shutdown, spoofed);
        }
        catch (Exception e) when (e is SocketException or TimeoutException or OperationCanceledException)
        {
            var why = e is SocketException se ? $"{se.SocketErrorCode}: {se.Message}" : e.Message;
            _transcript.Record(Direction.Proxy, EventKinds.UpstreamFailed, $"cannot connect to upstream {upstreamAddress}: {why}");
            (_endStage, _endSide) = ("connect", "upstream");
            await SendProxyReplyAsync($"421 4.4.0 SmtpLens: upstream {upstreamAddress} unreachable ({why})");
            return (SessionEndReason.UpstreamUnreachable, why);
        }

        using var upstreamSocket = upstream;
        _transcript.Info.UpstreamEndPoint = upstream.RemoteEndPoint;
        _transcript.Info.UpstreamSource = upstream.LocalEndPoint;
        if (_capture is not null)
        {
            await _capture.OpenAsync(CaptureLeg.Upstream, upstream.LocalEndPoint, upstream.RemoteEndPoint);
        }

        _transcript.Record(Direction.Proxy, EventKinds.UpstreamConnect, $"connected to upstream {upstream.RemoteEndPoint} from {upstream.LocalEndPoint} (route {_transcript.Info.Route}{(spoofed is null ? string.Empty : ", source spoofed as the client")})", new Dictionary<string, object?>
        {
            ["upstream"] = upstream.RemoteEndPoint?.ToString(),
            ["source"] = upstream.LocalEndPoint?.ToString(),
            ["route"] = _transcript.Info.Route,
            ["client"] = _transcript.Info.ClientEndPoint?.ToString(),
            ["clientSeen"] = _transcript.Info.ClientSeen?.ToString(),
            ["originalDestination"] = _transcript.Info.OriginalDestination?.ToString(),
            ["spoofedSource"] = spoofed is not null,
        });
        if (await SendProxyHeaderAsync(upstream, shutdown) is { } headerFailed)
        {
            return headerFailed;
        }

        _client.NoDelay = true;
        await using var clientSocketStream = new NetworkStream(_client, ownsSocket: false);
        await using var upstreamSocketStream = new NetworkStream(upstream, ownsSocket: false);

        // --pcap taps the sockets themselves, below TLS and below any simulated middlebox.
        var clientStream = _capture?.Tap(clientSocketStream, CaptureLeg.Client) ?? clientSocketStream;
        var upstreamStream = _capture?.Tap(upstreamSocketStream, CaptureLeg.Upstream) ?? upstreamSocketStream;
        using var activity = new ActivityTimeout(_context.Relay.IdleTimeout, _context.Relay.MaxSessionDuration, _context.Time, shutdown);
        var simulation = _context.Listener.Simulation;
        using var middlebox = simulation is { FiltersEsmtp: true } ? new SimulatedMiddlebox(simulation, upstream, upstreamStream, _transcript, _context.Relay.MaxLineLength) : null;
        var middleboxRun = middlebox?.RunAsync(activity.Token) ?? Task.CompletedTask;
        Stream upstreamSide = middlebox is null ? upstreamStream : middlebox.RelaySide;
        if (simulation is not null)
        {
            _transcript.Record(Direction.Proxy, EventKinds.Simulation, $"SIMULATION ACTIVE on listener {_context.Listener.Name}: {string.Join("; ", simulation.Describe())}. Lines marked SIMULATED were changed or answered on purpose; they are not observations of the upstream.", new Dictionary<string, object?> { ["simulated"] = true, ["rules"] = simulation.Describe() });
        }

        var client = new RelayLeg(PipeReader.Create(clientStream, ReaderOptions), clientStream);
        var server = new RelayLeg(PipeReader.Create(upstreamSide, ReaderOptions), upstreamSide);
        var legs = new List<RelayLeg> { client, server };
        try
        {
            if (_context.Listener.ImplicitTls)
            {
                _transcript.Record(Direction.Proxy, EventKinds.StartTls, "implicit TLS listener: both legs handshake from the first byte");
                if (_context.Tls?.Mode != TlsMode.Intercept)
                {
                    return await RelayOpaqueTlsAsync(client, server, activity);
                }

                var implicitTls = await InterceptAsync(client, server, activity);
                if (implicitTls.Failure is { } failed)
                {
                    return failed;
                }

                (client, server) = (implicitTls.Client!, implicitTls.Server!);
                legs.AddRange([client, server]);
                if (DropAfterHandshake() is { } dropped)
                {
                    return dropped;
                }
            }

            while (true)
            {
                var toUpstream = PumpAsync(client.Reader, server.Writer, fromClient: true, activity);
                var toClient = PumpAsync(server.Reader, client.Writer, fromClient: false, activity);
                var first = await Task.WhenAny(toUpstream, toClient);
                var firstResult = await first;
                var fromClientFirst = first == toUpstream;

                if (firstResult.Outcome == PumpOutcome.TlsUpgrade)
                {
                    var other = await (fromClientFirst ? toClient : toUpstream);
                    if (other.Outcome != PumpOutcome.TlsUpgrade)
                    {
                        return Describe(other, !fromClientFirst, activity);
                    }

                    DiscardInjected(client.Reader, fromClient: true);
                    DiscardInjected(server.Reader, fromClient: false);
                    if (_context.Tls?.Mode != TlsMode.Intercept)
                    {
                        return await RelayOpaqueTlsAsync(client, server, activity);
                    }

                    var upgraded = await InterceptAsync(client, server, activity);
                    if (upgraded.Failure is { } failure)
                    {
                        return failure;
                    }

                    (client, server) = (upgraded.Client!, upgraded.Server!);
                    legs.AddRange([client, server]);
                    if (DropAfterHandshake() is { } dropped)
                    {
                        return dropped;
                    }

                    _dialogue.ResumeAfterTls();
                    continue;
                }

                if (firstResult.Outcome == PumpOutcome.Ended && firstResult.Reason is SessionEndReason.ClientClosed or SessionEndReason.Quit && fromClientFirst)
                {
                    // A clean client close: let the upstream see EOF and deliver its last replies (221) first.
                    await server.CloseAsync();
                    if (middlebox is null)
                    {
                        TryShutdownSend(upstream);
                    }
                    else
                    {
                        middlebox.RelaySide.CompleteWriting();
                    }

                    await Task.WhenAny(toClient, Task.Delay(_context.Relay.DrainTimeout, _context.Time, activity.Token));
                }
                else if (!fromClientFirst && firstResult.Outcome == PumpOutcome.Ended)
                {
                    // Everything the upstream sent is already forwarded; the client learns of the close by EOF.
                    if (firstResult.Reason == SessionEndReason.Quit)
                    {
                        // QUIT is answered: nothing more from the client matters. SHUT_RD ends its pending read with
                        // EOF, before our close_notify can draw a reset; canceling that read instead throws up
                        // through every stream layer, in every session.
                        TryShutdown(_client, SocketShutdown.Receive);
                        await Task.WhenAny(toUpstream, Task.Delay(_context.Relay.DrainTimeout, _context.Time, activity.Token));
                    }

                    await client.CloseAsync();
                    TryShutdownSend(_client);
                }

                activity.Cancel();
                await Task.WhenAll(toUpstream, toClient);
                return Describe(firstResult, fromClientFirst, activity);
            }
        }
        finally
        {
            foreach (var leg in legs)
            {
                await leg.Reader.CompleteAsync();
            }

            if (middlebox is not null)
            {
                await middlebox.RelaySide.DisposeAsync();
                activity.Cancel();
                await middleboxRun;
            }
        }
    }

    /// <summary>Simulation: end the session right after a client-leg handshake with a matching suite (seed 002).</summary>
    private (SessionEndReason, string)? DropAfterHandshake()
    {
        var pattern = _context.Listener.Simulation?.DropAfterHandshake;
        var leg = _tlsLegs.LastOrDefault(l => l.Leg == "client");
        if (pattern is null || leg?.CipherSuite is not { } suite || !TlsNames.CipherSuite(suite).Contains(pattern, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var detail = $"SIMULATED drop-after-handshake: closed the connection right after a completed handshake with {TlsNames.CipherSuite(suite)} (rule drop-after-handshake={pattern}), as servers that disabled RC4 did in seed 002";
        _transcript.Record(Direction.Proxy, EventKinds.Simulation, detail, new Dictionary<string, object?> { ["simulated"] = true, ["rule"] = "drop-after-handshake", ["cipherSuite"] = TlsNames.CipherSuite(suite) });
        return (SessionEndReason.SimulatedDrop, detail);
    }

    /// <summary>Terminates TLS on both legs; on failure the session ends with the reason recorded.</summary>
    private async Task<(RelayLeg? Client, RelayLeg? Server, (SessionEndReason, string)? Failure)> InterceptAsync(RelayLeg client, RelayLeg server, ActivityTimeout activity)
    {
        var interceptor = _context.Interceptor!;
        if (_context.Listener.Simulation is { } simulation && (simulation.ClientTls ?? simulation.UpstreamTls) is not null)
        {
            var legs = new[] { ("client", "accepts from the client", simulation.ClientTls), ("upstream", "offers upstream", simulation.UpstreamTls) }
                .Where(l => l.Item3 is not null)
                .Select(l => $"the {l.Item1} leg {l.Item2} only {l.Item3} instead of SmtpLens's normal policy");
            _transcript.Record(Direction.Proxy, EventKinds.Simulation, $"SIMULATED TLS policy: {string.Join("; ", legs)}", new Dictionary<string, object?> { ["simulated"] = true, ["clientTls"] = simulation.ClientTls?.ToString(), ["upstreamTls"] = simulation.UpstreamTls?.ToString() });
        }

        TlsInterception result;
        try
        {
            if (_capture is not null)
            {
                await _capture.HoldAsync();
            }

            result = await interceptor.InterceptAsync(client.Reader, client.Writer, server.Reader, server.Writer, _upstreamTarget.Host, SessionId, _transcript, _capture is null ? null : _capture.AddSecret, activity.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            if (_capture is not null)
            {
                await _capture.ReleaseAsync();
            }

            // Outside the legs' own handshakes the interceptor reads the client's ClientHello and writes alerts to the
            // client: a client that resets or falls silent there is the client's doing, not an internal error.
            await ThreadPoolHop.OffEventThread;
            (_endStage, _endSide) = ("tls-handshake", "client");
            var why = activity.Expired is { } timedOut ? (timedOut, "during the TLS handshake, waiting for the client") : (SessionEndReason.ClientError, $"the client's connection failed during the TLS handshake: {e.Message}");
            _transcript.Record(Direction.Proxy, EventKinds.TlsFailed, $"client leg: {why.Item2}");
            return (null, null, why);
        }

        await ThreadPoolHop.OffEventThread;
        if (_capture is not null)
        {
            await _capture.ReleaseAsync();
        }

        _tlsLegs.Add(result.ClientLeg);
        _tlsLegs.Add(result.UpstreamLeg);
        _revocation?.Check(result.ClientLeg);
        _revocation?.Check(result.UpstreamLeg);
        if (!result.Succeeded)
        {
            // Which leg broke it: a silent client never sends its ClientHello; otherwise the failure names the leg.
            (_endStage, _endSide) = ("tls-handshake", result.ClientLeg.ClientHello is null && activity.Expired is not null ? "client"
                : result.Failure!.StartsWith("upstream", StringComparison.Ordinal) || (activity.Expired is not null && !result.UpstreamLeg.Completed) ? "upstream" : "client");
            if (activity.Expired is { } expired)
            {
                return (null, null, (expired, "during the TLS handshake"));
            }

            _log.LogWarning("{SessionId} TLS interception failed: {Failure}", SessionId, result.Failure);
            var reason = result.ClientLeg.ClientHello is null && result.UpstreamLeg.ClientHello is null ? SessionEndReason.TlsProtocolError : SessionEndReason.TlsHandshakeFailed;
            return (null, null, (reason, result.Failure!));
        }

        return (new RelayLeg(PipeReader.Create(result.Client!, ReaderOptions), result.Client!), new RelayLeg(PipeReader.Create(result.Upstream!, ReaderOptions), result.Upstream!), null);
    }

    /// <summary>TLS without interception: records pass through untouched; the cleartext handshake is recorded.</summary>
    private async Task<(SessionEndReason, string)> RelayOpaqueTlsAsync(RelayLeg client, RelayLeg server, ActivityTimeout activity)
    {
        _transcript.Record(Direction.Proxy, EventKinds.StartTls, "TLS is not intercepted on this listener (passthrough): relaying encrypted records unchanged");
        var handshake = new PassthroughHandshake(_transcript, leg =>
        {
            _tlsLegs.Add(leg);
            _revocation?.Check(leg);
        });
        var toUpstream = CopyOpaqueAsync(client.Reader, server.Writer, fromClient: true, activity, handshake);
        var toClient = CopyOpaqueAsync(server.Reader, client.Writer, fromClient: false, activity, handshake);
        var first = await Task.WhenAny(toUpstream, toClient);
        var result = await first;
        activity.Cancel();
        await Task.WhenAll(toUpstream, toClient);
        handshake.Report();
        return Describe(result, first == toUpstream, activity);
    }

    /// <summary>Plaintext buffered after STARTTLS and its 220 is never relayed into the TLS session: from the client it
    /// would reach the upstream as if protected (CVE-2011-0411), from the upstream the client would read it as
    /// replies inside TLS (CVE-2011-1575 class).</summary>
    private void DiscardInjected(PipeReader reader, bool fromClient)
    {
        if (!reader.TryRead(out var pending))
        {
            return;
        }

        if (!pending.Buffer.IsEmpty)
        {
            var shown = pending.Buffer.Length > 512 ? pending.Buffer.Slice(0, 512) : pending.Buffer;
            var who = fromClient ? "client sent" : "upstream sent";
            var when = fromClient ? "after STARTTLS" : "after its 220 to STARTTLS";
            _transcript.Record(Direction.Proxy, EventKinds.Anomaly, $"STARTTLS injection: {who} {pending.Buffer.Length} bytes of plaintext {when} before TLS began; discarded, not forwarded: {AsciiText.Escape(shown)}", new Dictionary<string, object?> { ["anomaly"] = "starttls-injection", ["leg"] = fromClient ? "client" : "upstream", ["bytes"] = pending.Buffer.Length });
        }

        reader.AdvanceTo(pending.Buffer.End);
    }

    private async Task<PumpResult> PumpAsync(PipeReader reader, Stream destination, bool fromClient, ActivityTimeout activity)
    {
        var token = activity.Token;
        var fairness = new EventThreadFairness();
        while (true)
        {
            var (read, readFailure) = await ReadAsync(reader, fromClient, token);
            if (readFailure is { } failed)
            {
                return failed;
            }

            activity.Reset();
            var buffer = read.Buffer;
            var step = fromClient
                ? _dialogue.ParseClient(ref buffer, read.IsCompleted)
                : _dialogue.ParseServer(ref buffer, read.IsCompleted);
            var consumed = read.Buffer.Slice(0, buffer.Start);
            var written = await WriteAsync(consumed, destination, fromClient, token);
            if (!fromClient)
            {
                _dialogue.CompleteReleasedWait();
            }

            await fairness.AfterAsync(consumed.Length);
            await WaitForTranscriptAsync(token);

            if (written is { } failure)
            {
                reader.AdvanceTo(buffer.Start);
                return failure;
            }

            switch (step.Step)
            {
                case DialogueStep.Continue:
                    reader.AdvanceTo(buffer.Start, read.Buffer.End);
                    break;
                case DialogueStep.AwaitReply:
                    reader.AdvanceTo(buffer.Start);
                    try
                    {
                        var next = await _dialogue.WaitForReplyAsync(token);
                        if (next == DialogueStep.TlsUpgrade)
                        {
                            return new PumpResult(PumpOutcome.TlsUpgrade, SessionEndReason.Quit);
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        return new PumpResult(PumpOutcome.Canceled, SessionEndReason.Shutdown);
                    }

                    break;
                case DialogueStep.TlsUpgrade:
                    reader.AdvanceTo(buffer.Start);
                    return new PumpResult(PumpOutcome.TlsUpgrade, SessionEndReason.Quit);
                default:
                    reader.AdvanceTo(buffer.Start);
                    return new PumpResult(PumpOutcome.Ended, step.Reason);
            }
        }
    }

    private async Task<PumpResult> CopyOpaqueAsync(PipeReader reader, Stream destination, bool fromClient, ActivityTimeout activity, PassthroughHandshake handshake)
    {
        var token = activity.Token;
        var fairness = new EventThreadFairness();
        while (true)
        {
            var (read, readFailure) = await ReadAsync(reader, fromClient, token);
            if (readFailure is { } failed)
            {
                return failed;
            }

            activity.Reset();
            handshake.Observe(read.Buffer, fromClient);
            if (await WriteAsync(read.Buffer, destination, fromClient, token) is { } failure)
            {
                return failure;
            }

            reader.AdvanceTo(read.Buffer.End);
            await WaitForTranscriptAsync(token);
            if (read.IsCompleted)
            {
                return new PumpResult(PumpOutcome.Ended, fromClient ? SessionEndReason.ClientClosed : SessionEndReason.UpstreamClosed);
            }

            await fairness.AfterAsync(read.Buffer.Length);
        }
    }

    /// <summary>Back-pressure from a transcript writer that fell behind; a session ending anyway stops waiting.</summary>
    private async ValueTask WaitForTranscriptAsync(CancellationToken token)
    {
        try
        {
            await _transcript.WaitForWriterAsync(token);
        }
        catch (OperationCanceledException)
        {
            // The next read sees the cancellation and ends the pump with its reason.
        }
    }

    /// <summary>One read, with a failure classified by side instead of thrown.</summary>
    private static async ValueTask<(ReadResult Read, PumpResult? Failure)> ReadAsync(PipeReader reader, bool fromClient, CancellationToken token)
    {
        try
        {
            return (await reader.ReadAsync(token), null);
        }
        catch (OperationCanceledException)
        {
            return (default, new PumpResult(PumpOutcome.Canceled, SessionEndReason.Shutdown));
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return (default, new PumpResult(PumpOutcome.ReadError, fromClient ? SessionEndReason.ClientError : SessionEndReason.UpstreamError, e));
        }
    }

    private async ValueTask<PumpResult?> WriteAsync(ReadOnlySequence<byte> bytes, Stream destination, bool fromClient, CancellationToken token)
    {
        if (bytes.IsEmpty)
        {
            return null;
        }

        try
        {
            foreach (var segment in bytes)
            {
                await destination.WriteAsync(segment, token);
            }
        }
        catch (OperationCanceledException)
        {
            return new PumpResult(PumpOutcome.Canceled, SessionEndReason.Shutdown);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return new PumpResult(PumpOutcome.WriteError, fromClient ? SessionEndReason.UpstreamError : SessionEndReason.ClientError, e);
        }

        Interlocked.Add(ref fromClient ? ref _bytesFromClient : ref _bytesFromUpstream, bytes.Length);
        return null;
    }

    private (SessionEndReason, string) Describe(PumpResult result, bool fromClient, ActivityTimeout activity)
    {
        var side = fromClient ? "client" : "upstream";
        var (reason, detail) = result.Outcome switch
        {
            PumpOutcome.Canceled when activity.Expired is { } expired => (expired, expired switch
            {
                SessionEndReason.IdleTimeout => $"no data from either side for {_context.Relay.IdleTimeout.TotalSeconds:0} s",
                SessionEndReason.SessionTimeLimit => $"session exceeded {_context.Relay.MaxSessionDuration.TotalSeconds:0} s",
                _ => "SmtpLens shut down: the session was still open when the shutdown grace period ended",
            }),
            PumpOutcome.ReadError => (result.Reason, $"reading from {side} failed: {result.Error?.Message}"),
            PumpOutcome.WriteError => (result.Reason, $"writing to {(fromClient ? "upstream" : "client")} failed: {result.Error?.Message}"),
            _ => (result.Reason, result.Reason switch
            {
                SessionEndReason.Quit => "QUIT answered",
                SessionEndReason.ClientClosed => "client closed the connection",
                SessionEndReason.UpstreamClosed => "upstream closed the connection",
                SessionEndReason.ClientClosedMidLine => "client closed mid-line",
                SessionEndReason.ClientClosedMidMessage => "client closed during message content",
                SessionEndReason.UpstreamClosedMidLine => "upstream closed mid-reply",
                SessionEndReason.UpstreamClosedMidMessage => "upstream closed during message content; client disconnected without a reply",
                SessionEndReason.CommandLineTooLong => $"command line over {_context.Relay.MaxLineLength} bytes",
                SessionEndReason.ReplyLineTooLong => $"reply line over {_context.Relay.MaxLineLength} bytes",
                SessionEndReason.TlsHandshakeFailed => "TLS handshake failed",
                _ => result.Reason.ToString(),
            }),
        };

        if (reason is SessionEndReason.IdleTimeout or SessionEndReason.SessionTimeLimit || (reason is SessionEndReason.Shutdown && activity.Expired is SessionEndReason.Shutdown))
        {
            _transcript.Record(Direction.Proxy, EventKinds.Limit, detail, new Dictionary<string, object?> { ["limit"] = reason.ToString() });
        }
        else if (result.Outcome is PumpOutcome.ReadError or PumpOutcome.WriteError)
        {
            _transcript.Record(Direction.Proxy, EventKinds.Error, detail);
        }

        return (reason, detail);
    }

    /// <summary>The side that ended the session, or fell silent: a stall is the upstream's while it owes a reply.</summary>
    private string SideOf(SessionEndReason reason) => reason switch
    {
        SessionEndReason.Quit or SessionEndReason.ClientClosed or SessionEndReason.ClientClosedMidLine or SessionEndReason.ClientClosedMidMessage
            or SessionEndReason.ClientError or SessionEndReason.CommandLineTooLong or SessionEndReason.ProxyHeaderRejected => "client",
        SessionEndReason.UpstreamClosed or SessionEndReason.UpstreamClosedMidLine or SessionEndReason.UpstreamClosedMidMessage
            or SessionEndReason.UpstreamUnreachable or SessionEndReason.UpstreamError or SessionEndReason.ReplyLineTooLong => "upstream",
        SessionEndReason.IdleTimeout or SessionEndReason.SessionTimeLimit => _dialogue.AwaitingUpstream ? "upstream" : "client",
        _ => "proxy",
    };

    /// <summary>The one reply SmtpLens ever originates: a 421 when there is no upstream to speak for itself.</summary>
    private async Task SendProxyReplyAsync(string line)
    {
        _transcript.Record(Direction.Proxy, EventKinds.ProxyReply, $"SmtpLens to client: {line}");
        var bytes = Encoding.ASCII.GetBytes(line + "\r\n");
        if (_capture is not null)
        {
            await _capture.RecordAsync(CaptureLeg.Client, inbound: false, bytes, CancellationToken.None);
        }

        try
        {
            await _client.SendAsync(bytes, SocketFlags.None);
            _client.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The client is gone too; the transcript already says what happened.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_capture is not null)
        {
            await _capture.DisposeAsync();
        }

        if (!_closeDeferred)
        {
            await _transcript.DisposeAsync();
        }
    }

    private async Task CloseWhenSettledAsync(Task settled)
    {
        await settled.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _transcript.DisposeAsync();
    }

    private static void TryShutdownSend(Socket socket) => TryShutdown(socket, SocketShutdown.Send);

    private static void TryShutdown(Socket socket, SocketShutdown how)
    {
        try
        {
            socket.Shutdown(how);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }
}
