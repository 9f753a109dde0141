using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>What the engine has reconstructed of one session so far, shared by every detector: replies matched
/// to their commands, whether TLS has started, the greeting and the EHLO reply.</summary>
/// <remarks>Replies are matched to commands in order (RFC 2920 keeps that true under PIPELINING), the same way
/// the dialogue tracker does: AUTH's 334 continuations answer nothing, DATA's 354 is followed by the reply to
/// the content, and after STARTTLS's 220 the dialogue starts over without a greeting (RFC 3207 4.2).</remarks>
internal sealed class DialogueView
{
    private readonly Queue<(string? Verb, TranscriptEvent? Command, bool EndOfData)> _pending = new();
    /// <summary>Lines kept per reply: enough for any EHLO reply, bounded against an endless multi-line reply.</summary>
    private const int MaxReplyLines = 200;

    private readonly List<TranscriptEvent> _replyLines = [];

    public DialogueView(string session)
    {
        Session = session;
        _pending.Enqueue((null, null, false));
    }

    public string Session { get; }

    /// <summary>Set while handling the event that completed a reply (its last line); null otherwise.</summary>
    public ObservedReply? CompletedReply { get; private set; }

    /// <summary>The most recent complete reply (the EHLO reply while handling its <c>ehlo</c> event).</summary>
    public ObservedReply? LastReply { get; private set; }

    public ObservedReply? Greeting { get; private set; }

    /// <summary>The latest <c>ehlo</c> event recorded before TLS started.</summary>
    public TranscriptEvent? PlaintextEhlo { get; private set; }

    /// <summary>The latest <c>ehlo</c> event, before or after TLS.</summary>
    public TranscriptEvent? LatestEhlo { get; private set; }

    /// <summary>STARTTLS was accepted, or the listener is implicit TLS, or a handshake was recorded.</summary>
    public bool TlsStarted { get; private set; }

    /// <summary>The client sent STARTTLS at some point.</summary>
    public TranscriptEvent? StartTlsCommand { get; private set; }

    /// <summary>Commands the client sent after TLS started (a count: sessions may be long).</summary>
    public int CommandsSinceTls { get; private set; }

    /// <summary>How many replies have completed since TLS started (0 before TLS).</summary>
    public int RepliesSinceTls { get; private set; }

    /// <summary>The listener simulates a middlebox (a <c>simulation</c> event was recorded): findings are demonstrations.</summary>
    public bool Simulated { get; private set; }

    /// <summary>The <c>disconnect</c> event, once recorded.</summary>
    public TranscriptEvent? Disconnect { get; private set; }

    /// <summary>The session end reason from the disconnect event (Quit, UpstreamClosed, ...).</summary>
    public string? EndReason => Disconnect is null ? null : EventFields.Text(Disconnect.Data, "end");

    public void Advance(TranscriptEvent e)
    {
        CompletedReply = null;
        switch (e.Kind)
        {
            case EventKinds.Command:
                if (TlsStarted)
                {
                    CommandsSinceTls++;
                }

                var verb = (EventFields.Text(e.Data, "verb") ?? string.Empty).ToUpperInvariant();
                if (verb == "STARTTLS")
                {
                    StartTlsCommand = e;
                }

                _pending.Enqueue((verb, e, false));
                break;
            case EventKinds.Reply when EventFields.Bool(e.Data, "malformed") != true:
                if (_replyLines.Count < MaxReplyLines)
                {
                    _replyLines.Add(e);
                }

                if (EventFields.Bool(e.Data, "last") == true)
                {
                    CompleteReply(EventFields.Int(e.Data, "code") ?? 0);
                }

                break;
            case EventKinds.Ehlo:
                LatestEhlo = e;
                if (!TlsStarted)
                {
                    PlaintextEhlo = e;
                }

                break;
            case EventKinds.StartTls or EventKinds.TlsClientHello or EventKinds.TlsHandshake or EventKinds.TlsFailed:
                TlsStarted = true;
                break;
            case EventKinds.Disconnect:
                Disconnect = e;
                break;
            case EventKinds.Simulation:
                Simulated = true;
                break;
        }
    }

    private void CompleteReply(int code)
    {
        var lines = _replyLines.ToList();
        _replyLines.Clear();
        if (!_pending.TryPeek(out var head))
        {
            CompletedReply = LastReply = new ObservedReply("(unsolicited)", null, false, code, lines);
            return;
        }

        if (head.Verb == "AUTH" && code == 334)
        {
            CompletedReply = LastReply = new ObservedReply(head.Verb, head.Command, false, code, lines);
            return;
        }

        _pending.Dequeue();
        CompletedReply = LastReply = new ObservedReply(head.Verb, head.Command, head.EndOfData, code, lines);
        if (TlsStarted)
        {
            RepliesSinceTls++;
        }

        if (CompletedReply.IsGreeting)
        {
            Greeting = CompletedReply;
        }
        else if (head.Verb == "DATA" && !head.EndOfData && code == 354)
        {
            _pending.Enqueue(("DATA", null, true));
        }
        else if (head.Verb == "STARTTLS" && code == 220)
        {
            // The relay discards anything queued behind STARTTLS; the dialogue starts over inside TLS.
            _pending.Clear();
        }
    }
}
