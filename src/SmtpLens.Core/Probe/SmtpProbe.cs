using System.Net.Sockets;
using SmtpLens.Findings;
using SmtpLens.Net;
using SmtpLens.Protocol;
using SmtpLens.Relay;
using SmtpLens.StateMachine;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe;

/// <summary>A probe of one host: the main connection, then one connection per restricted TLS offer.</summary>
internal sealed record HostProbe(HostPort Target, string? MxName, ProbeSession Main, IReadOnlyList<ProbeSession> Offers)
{
    /// <summary>The address connected to when <c>--mx</c> probes each address of an MX host; null: the target's name
    /// was resolved by the operating system (or is itself an address).</summary>
    public System.Net.IPAddress? Address { get; init; }

    /// <summary>What each sending policy would decide about this connection (empty when nothing answered).</summary>
    public IReadOnlyList<Policy.PolicyVerdict> Verdicts { get; init; } = [];

    /// <summary>"mx1.example.com[192.0.2.1]" as Postfix names a host, or the target.</summary>
    public string Label => Address is { } a ? $"{MxName ?? Target.Host}[{a}]" : MxName is { } mx ? $"{mx} ({Target})" : Target.ToString();
}

/// <summary>posttls-finger with SmtpLens's transcripts: banner, EHLO, STARTTLS, handshake, EHLO again, QUIT.</summary>
/// <remarks>It never sends MAIL. Every connection is a transcript session recorded through the proxy's own
/// dialogue tracker and TLS recording, so the detectors judge a probe exactly as they judge relayed traffic.</remarks>
internal sealed class SmtpProbe(ProbeOptions options, TimeProvider time)
{
    private readonly SessionIdGenerator _ids = new(time);

    /// <param name="address">Connect here instead of resolving <paramref name="target"/>; SNI and the name checked stay the target's host.</param>
    public async Task<HostProbe> ProbeHostAsync(HostPort target, string? mxName, CancellationToken cancellationToken, System.Net.IPAddress? address = null)
    {
        var main = await RunAsync(target, null, cancellationToken, mxName, address);
        var offers = new List<ProbeSession>();
        if (main.Error is null && main.Banner?.Class == 2)
        {
            foreach (var offer in options.Offers)
            {
                offers.Add(await RunAsync(target, offer, cancellationToken, mxName, address));
            }
        }

        return new HostProbe(target, mxName, main, offers) { Address = address };
    }

    /// <summary>An MX host that has no address to connect to: nothing was sent, the DNS problem is the error.</summary>
    public HostProbe Unresolved(HostPort target, string mxName, string problem) =>
        new(target, mxName, new ProbeSession(_ids.Next(), target, null) { Error = problem, End = SessionEndReason.UpstreamUnreachable }, []);

    /// <param name="mxName">The MX host name the target came from (probe --mx): recorded so its certificate is checked against it.</param>
    /// <param name="address">The one address of the target to connect to (probe --mx probes each); null: resolve the target.</param>
    public async Task<ProbeSession> RunAsync(HostPort target, TlsOffer? offer, CancellationToken cancellationToken, string? mxName = null, System.Net.IPAddress? address = null)
    {
        var session = new ProbeSession(_ids.Next(), target, offer);
        var started = time.GetTimestamp();
        Socket? socket = null;
        string? connectError = null;
        try
        {
            socket = await UpstreamConnector.ConnectAsync(address is null ? target : new HostPort(address.ToString(), target.Port), options.Timeout, time, cancellationToken);
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            connectError = e is SocketException se ? $"{se.SocketErrorCode}: {se.Message}" : e.Message;
        }

        var info = new SessionInfo(session.SessionId, offer is null ? "probe" : "probe-offer", socket?.LocalEndPoint, null)
        {
            UpstreamName = target.ToString(),
            UpstreamEndPoint = socket?.RemoteEndPoint,
        };
        await using var transcript = new SessionTranscript(info, options.Transcripts, time);
        transcript.EventRecorded += session.Events.Add;

        // Live, exactly as the proxy raises them: each finding is recorded right after the event that raised it.
        var findings = new SessionFindings(transcript, null);
        var dialogue = new SmtpDialogue(transcript, new DialogueOptions { MaxLineLength = options.MaxLineLength, Redact = options.Transcripts.Redact });
        if (socket is null)
        {
            transcript.Record(Direction.Proxy, EventKinds.UpstreamFailed, $"cannot connect to {target}{(address is null ? string.Empty : $" at {address}")}: {connectError}");
            session.Error = $"cannot connect: {connectError}";
            session.End = SessionEndReason.UpstreamUnreachable;
            Finish(transcript, dialogue, findings, session, started);
            return session;
        }

        session.LocalEndPoint = socket.LocalEndPoint?.ToString();
        session.RemoteEndPoint = socket.RemoteEndPoint?.ToString();
        transcript.Record(Direction.Proxy, EventKinds.UpstreamConnect, $"probe connected to {socket.RemoteEndPoint} ({target.Host}) from {socket.LocalEndPoint}{(offer is null ? string.Empty : $" to test TLS offer {offer.Label}")}", new Dictionary<string, object?>
        {
            ["upstream"] = session.RemoteEndPoint,
            ["source"] = session.LocalEndPoint,
            ["probe"] = true,
            ["offer"] = offer?.Label,
            ["mx"] = mxName,
        });

        await using (var connection = new ProbeConnection(socket, dialogue, transcript, time, options.Timeout, options.MaxLineLength))
        {
            try
            {
                await ConverseAsync(connection, session, target, offer, transcript, cancellationToken);
            }
            catch (ProbeAbortedException e)
            {
                session.Error = e.Message;
                session.End = e.Reason;
            }
        }

        if (offer is null && options.Revocation is { } revocation && session.Tls is { ServerCertificatesDer.Count: > 0 } leg)
        {
            foreach (var result in await revocation.CheckChainAsync("upstream", leg.ServerCertificatesDer, cancellationToken))
            {
                transcript.Record(Direction.Proxy, Tls.Revocation.CertificateRevocation.EventKind, "revocation " + result.Describe(), result.ToData());
            }
        }

        Finish(transcript, dialogue, findings, session, started);
        return session;
    }

    private async Task ConverseAsync(ProbeConnection connection, ProbeSession session, HostPort target, TlsOffer? offer, ITranscriptRecorder transcript, CancellationToken ct)
    {
        var policy = offer?.Policy ?? options.Policy;
        if (options.ImplicitTls)
        {
            transcript.Record(Direction.Proxy, EventKinds.StartTls, "implicit TLS: the probe handshakes from the first byte (port 465 style)");
            if (!await HandshakeAsync(connection, session, target, policy, transcript, ct))
            {
                return;
            }
        }

        session.Banner = await connection.ReadReplyAsync("greeting", ct)
            ?? throw Vanished(transcript, "the server closed the connection before its greeting", SessionEndReason.UpstreamClosed);
        if (session.Banner.Class != 2)
        {
            // 554 "no SMTP service here" or a 421: the reply is the result; say goodbye as RFC 5321 3.1 allows.
            await QuitAsync(connection, session, ct);
            return;
        }

        var inTls = options.ImplicitTls;
        if (!await HelloAsync(connection, session, inTls, ct))
        {
            return;
        }

        var wantTls = !options.ImplicitTls && session.HelloReply?.Class == 2 && options.StartTls switch
        {
            StartTlsMode.Always => true,
            StartTlsMode.IfOffered => session.StartTlsOffered,
            _ => false,
        };
        if (wantTls)
        {
            session.StartTlsAttempted = true;
            await connection.SendAsync("STARTTLS", ct);
            session.StartTlsReply = await connection.ReadReplyAsync("reply to STARTTLS", ct)
                ?? throw Vanished(transcript, "the server closed the connection instead of answering STARTTLS", SessionEndReason.UpstreamClosed);
            if (session.StartTlsReply.Code == 220)
            {
                await connection.DiscardPendingAsync();
                if (!await HandshakeAsync(connection, session, target, policy, transcript, ct))
                {
                    return;
                }

                connection.Dialogue.ResumeAfterTls();
                inTls = true;
                if (offer is null && !await HelloAsync(connection, session, inTls, ct))
                {
                    return;
                }
            }
        }

        if (offer is null && options.StartTls == StartTlsMode.Never && session.HelloReply?.Class == 2)
        {
            // --no-starttls: does the server demand TLS? MAIL would tell, but the probe never sends MAIL. VRFY
            // starts no transaction and delivers nothing, and servers enforcing TLS refuse it until STARTTLS
            // (Postfix with smtpd_tls_security_level = encrypt answers 530 5.7.0). Only on request: otherwise
            // the probe quits right after EHLO, as a sender that requires TLS does.
            await connection.SendAsync("VRFY postmaster", ct);
            session.TlsRequirementCheck = await connection.ReadReplyAsync("reply to VRFY", ct);
            if (session.TlsRequirementCheck is null)
            {
                session.End = SessionEndReason.UpstreamClosed;
                return;
            }
        }

        await QuitAsync(connection, session, ct);
    }

    /// <summary>EHLO, falling back to HELO on a 5xx as MTAs do. False when the server dropped the connection.</summary>
    private async Task<bool> HelloAsync(ProbeConnection connection, ProbeSession session, bool inTls, CancellationToken ct)
    {
        await connection.SendAsync($"EHLO {options.EhloName}", ct);
        SmtpReply? reply;
        try
        {
            reply = await connection.ReadReplyAsync("reply to EHLO", ct);
        }
        catch (ProbeAbortedException e) when (inTls && session.Tls?.Completed == true && e.Reason is SessionEndReason.UpstreamError or SessionEndReason.UpstreamClosedMidLine or SessionEndReason.IdleTimeout)
        {
            // The seed 002 pattern: TLS "succeeds", then the connection dies or hangs before any SMTP reply.
            // That is the diagnosis (TLS_DROPPED_AFTER_HANDSHAKE), not a failure to probe.
            session.End = e.Reason;
            session.Note = e.Reason == SessionEndReason.IdleTimeout
                ? "the server went silent right after the TLS handshake and never answered EHLO"
                : $"the connection failed right after the TLS handshake, before any answer to EHLO ({e.Message})";
            return false;
        }

        if (reply is null)
        {
            session.End = SessionEndReason.UpstreamClosed;
            if (inTls && session.Tls?.Completed == true)
            {
                session.Note = "the server closed the connection right after the TLS handshake, before answering EHLO";
                return false;
            }

            throw Vanished(connection.Transcript, "the server closed the connection instead of answering EHLO", SessionEndReason.UpstreamClosed);
        }

        if (reply.Class == 5)
        {
            await connection.SendAsync($"HELO {options.EhloName}", ct);
            reply = await connection.ReadReplyAsync("reply to HELO", ct)
                ?? throw Vanished(connection.Transcript, "the server closed the connection instead of answering HELO", SessionEndReason.UpstreamClosed);
        }

        if (inTls)
        {
            session.HelloReplyInTls = reply;
            session.EhloInTls = EhloReply.From(reply);
        }
        else
        {
            session.HelloReply = reply;
            session.EhloBeforeTls = EhloReply.From(reply);
        }

        return true;
    }

    private async Task<bool> HandshakeAsync(ProbeConnection connection, ProbeSession session, HostPort target, TlsPolicy policy, ITranscriptRecorder transcript, CancellationToken ct)
    {
        var leg = new TlsLegRecord("upstream", "client");
        session.Tls = leg;
        var tls = await ProbeHandshake.ConnectAsync(connection.Network, connection.Network, policy, options.ServerNameFor(target), leg, time, options.Timeout, ct);
        TlsInterceptor.RecordLeg(transcript, leg);
        if (tls is null)
        {
            session.End = SessionEndReason.TlsHandshakeFailed;
            return false;
        }

        connection.SwitchTo(tls);
        return true;
    }

    private static async Task QuitAsync(ProbeConnection connection, ProbeSession session, CancellationToken ct)
    {
        try
        {
            await connection.SendAsync("QUIT", ct);
            session.QuitReply = await connection.ReadReplyAsync("reply to QUIT", ct);
            session.End = session.QuitReply?.Code == 221 ? SessionEndReason.Quit : SessionEndReason.UpstreamClosed;
        }
        catch (ProbeAbortedException e)
        {
            // Everything was learned already; a server that hangs up on QUIT is impolite, not broken.
            session.End = e.Reason;
        }
    }

    private static ProbeAbortedException Vanished(ITranscriptRecorder transcript, string message, SessionEndReason reason)
    {
        transcript.Record(Direction.Proxy, EventKinds.Error, message);
        return new ProbeAbortedException(message, reason);
    }

    private void Finish(SessionTranscript transcript, SmtpDialogue dialogue, SessionFindings findings, ProbeSession session, long started)
    {
        if (session.Note is { } note)
        {
            transcript.Record(Direction.Proxy, EventKinds.Error, note);
        }

        dialogue.Close(session.End.ToString());
        var detail = session.Error ?? session.Note ?? (session.End == SessionEndReason.Quit ? "QUIT answered" : session.End.ToString());

        // The disconnect event completes the findings (end-of-session detectors), as in the proxy.
        transcript.Record(Direction.Proxy, EventKinds.Disconnect, $"session ended: {session.End} ({detail})", new Dictionary<string, object?> { ["end"] = session.End.ToString() });
        session.Findings = findings.Findings;
        var summary = new SessionSummary(
            session.SessionId,
            transcript.Info.ListenerName,
            session.LocalEndPoint ?? "?",
            session.RemoteEndPoint ?? session.Target.ToString(),
            options.EhloName,
            session.Banner?.RawLines[0],
            (session.EhloInTls ?? session.EhloBeforeTls)?.Keywords.Select(k => k.Parameters.Length > 0 ? $"{k.Keyword} {k.Parameters}" : k.Keyword).ToList() ?? [],
            [],
            0,
            0,
            time.GetElapsedTime(started),
            session.End,
            detail)
        {
            TlsLegs = session.Tls is { } leg ? [leg] : [],
            Findings = session.Findings,
        };
        transcript.Record(Direction.Proxy, EventKinds.Summary, "summary", summary.ToData());
    }
}
