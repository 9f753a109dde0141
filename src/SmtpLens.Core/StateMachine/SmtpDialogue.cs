using System.Buffers;
using SmtpLens.Protocol;
using SmtpLens.Transcripts;

namespace SmtpLens.StateMachine;

/// <summary>What the client's next bytes are: a command, message content, or TLS.</summary>
internal enum ClientMode
{
    Command,

    /// <summary>After DATA, STARTTLS, AUTH or a SASL response: the next bytes mean nothing until the upstream has
    /// answered (after AUTH, only its 334 makes the next line a SASL response rather than a command).</summary>
    AwaitingReply,
    Data,
    Bdat,

    /// <summary>STARTTLS was accepted: both directions now carry TLS records.</summary>
    Tls,
}

internal enum DialogueStep
{
    /// <summary>Forward what was consumed and read more.</summary>
    Continue,

    /// <summary>Forward what was consumed, then wait for the upstream's reply before parsing further.</summary>
    AwaitReply,

    /// <summary>STARTTLS succeeded; the session must switch to TLS handling.</summary>
    TlsUpgrade,

    /// <summary>The session is over for the given reason.</summary>
    End,
}

internal readonly record struct DialogueResult(DialogueStep Step, SessionEndReason Reason = SessionEndReason.Quit)
{
    public static readonly DialogueResult Continue = new(DialogueStep.Continue);

    public static DialogueResult End(SessionEndReason reason) => new(DialogueStep.End, reason);
}

/// <summary>Follows one SMTP session in both directions and tells the relay what each byte is.</summary>
/// <remarks>
/// It knows nothing of sockets: the relay hands it buffers and forwards exactly the bytes it consumed,
/// so what it learns can never change what is relayed. Both directions call in, so state sits behind one
/// lock. Replies are matched to commands in order, which is what PIPELINING (RFC 2920) guarantees.
/// </remarks>
internal sealed class SmtpDialogue
{
    private readonly Lock _gate = new();
    private readonly ITranscriptRecorder _transcript;
    private readonly DialogueOptions _options;
    private readonly Queue<Pending> _pending = new();
    private readonly ReplyAssembler _replies = new();
    private readonly List<Transaction> _transactions = [];
    private TaskCompletionSource<DialogueStep>? _replyWait;
    private volatile TaskCompletionSource<DialogueStep>? _released;
    private DialogueStep _releasedStep;
    private ClientMode _mode = ClientMode.Command;
    private SessionPhase _phase = SessionPhase.AwaitingGreeting;
    /// <summary>AUTH was sent and its final (non-334) reply has not been parsed yet.</summary>
    private bool _saslOpen;

    /// <summary>334 challenges parsed whose answer line has not been: each makes one client line a SASL response.</summary>
    private int _saslChallenges;
    private Transaction? _current;
    private DataContentScanner? _scanner;
    private MessageDigest? _digest;
    private Transaction? _messageTransaction;
    private long _bdatRemaining;
    private bool _bdatLast;
    private int _messages;

    public SmtpDialogue(ITranscriptRecorder transcript, DialogueOptions options)
    {
        _transcript = transcript;
        _options = options;
        _pending.Enqueue(new Pending(PendingKind.Greeting, null, null));
    }

    private enum PendingKind
    {
        Greeting,
        Command,
        DataEnd,
    }

    public ClientMode Mode
    {
        get
        {
            lock (_gate)
            {
                return _mode;
            }
        }
    }

    public string? ClientHelo { get; private set; }

    public SmtpReply? Greeting { get; private set; }

    public EhloReply? UpstreamEhlo { get; private set; }

    public bool QuitAcknowledged { get; private set; }

    /// <summary>The SMTP stage the session is in: the oldest command still awaiting its reply, else the step the
    /// client is at. The end-of-session event names it, so a fault says where it struck.</summary>
    public string Stage
    {
        get
        {
            lock (_gate)
            {
                // Content in flight or a handshake under way outranks the reply owed for the command before it.
                if (_mode is ClientMode.Data or ClientMode.Bdat or ClientMode.Tls)
                {
                    return _mode == ClientMode.Tls ? "tls-handshake" : "data";
                }

                if (_pending.TryPeek(out var waiting))
                {
                    return waiting.Kind switch
                    {
                        PendingKind.Greeting => "banner",
                        PendingKind.DataEnd => "after-final-dot",
                        _ when waiting.LastChunk => "after-last-chunk",
                        _ => StageOf(waiting.Command!.Verb),
                    };
                }

                return _phase switch
                {
                    SessionPhase.AwaitingGreeting => "banner",
                    SessionPhase.Greeted => "ehlo",
                    SessionPhase.Identified => "mail",
                    SessionPhase.MailGiven => "rcpt",
                    SessionPhase.RecipientsGiven or SessionPhase.Chunking => "data",
                    _ => "quit",
                };
            }
        }
    }

    /// <summary>True while the upstream owes a reply and the client owes no content: a silence then is the upstream's.</summary>
    public bool AwaitingUpstream
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count > 0 && _mode is not (ClientMode.Data or ClientMode.Bdat);
            }
        }
    }

    public IReadOnlyList<Transaction> Transactions
    {
        get
        {
            lock (_gate)
            {
                return [.. _transactions];
            }
        }
    }

    /// <summary>Consumes client bytes from the front of <paramref name="buffer"/>.</summary>
    /// <param name="isCompleted">The client has closed; whatever remains is all there will be.</param>
    public DialogueResult ParseClient(ref ReadOnlySequence<byte> buffer, bool isCompleted)
    {
        lock (_gate)
        {
            while (true)
            {
                switch (_mode)
                {
                    case ClientMode.Tls:
                        return new DialogueResult(DialogueStep.TlsUpgrade);
                    case ClientMode.AwaitingReply:
                        return isCompleted && buffer.IsEmpty ? EndOfClient(buffer) : new DialogueResult(DialogueStep.AwaitReply);
                    case ClientMode.Data:
                        if (!ScanData(ref buffer))
                        {
                            return isCompleted ? EndOfClient(buffer) : DialogueResult.Continue;
                        }

                        break;
                    case ClientMode.Bdat:
                        if (!TakeChunk(ref buffer))
                        {
                            return isCompleted ? EndOfClient(buffer) : DialogueResult.Continue;
                        }

                        break;
                    default:
                        var status = LineFramer.TryTake(ref buffer, _options.MaxLineLength, out var line);
                        if (status == LineStatus.Incomplete)
                        {
                            return isCompleted ? EndOfClient(buffer) : DialogueResult.Continue;
                        }

                        if (status == LineStatus.TooLong)
                        {
                            _transcript.Record(Direction.Proxy, EventKinds.Limit, $"command line longer than {_options.MaxLineLength} bytes; session ended, nothing of the line was forwarded", new Dictionary<string, object?> { ["limit"] = "max-line-length", ["value"] = _options.MaxLineLength });
                            return DialogueResult.End(SessionEndReason.CommandLineTooLong);
                        }

                        var result = OnCommandLine(line);
                        if (result.Step != DialogueStep.Continue)
                        {
                            return result;
                        }

                        break;
                }
            }
        }
    }

    /// <summary>Consumes upstream bytes from the front of <paramref name="buffer"/>.</summary>
    public DialogueResult ParseServer(ref ReadOnlySequence<byte> buffer, bool isCompleted)
    {
        lock (_gate)
        {
            while (true)
            {
                if (_mode == ClientMode.Tls)
                {
                    return new DialogueResult(DialogueStep.TlsUpgrade);
                }

                var status = LineFramer.TryTake(ref buffer, _options.MaxLineLength, out var line);
                if (status == LineStatus.Incomplete)
                {
                    return isCompleted ? EndOfServer(buffer) : DialogueResult.Continue;
                }

                if (status == LineStatus.TooLong)
                {
                    _transcript.Record(Direction.Proxy, EventKinds.Limit, $"reply line longer than {_options.MaxLineLength} bytes; session ended, nothing of the line was forwarded", new Dictionary<string, object?> { ["limit"] = "max-line-length", ["value"] = _options.MaxLineLength });
                    return DialogueResult.End(SessionEndReason.ReplyLineTooLong);
                }

                var result = OnReplyLine(line);
                if (result.Step != DialogueStep.Continue)
                {
                    return result;
                }
            }
        }
    }

    /// <summary>Completes when the reply the client is waiting for (DATA, STARTTLS) has been parsed.</summary>
    public Task<DialogueStep> WaitForReplyAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_mode != ClientMode.AwaitingReply || _replyWait is null)
            {
                // Still awaiting a reply but nothing to wait on: the dialogue was closed.
                return Task.FromResult(_mode switch
                {
                    ClientMode.Tls => DialogueStep.TlsUpgrade,
                    ClientMode.AwaitingReply => DialogueStep.End,
                    _ => DialogueStep.Continue,
                });
            }

            return _replyWait.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>After a TLS upgrade the dialogue starts over (RFC 3207 4.2): the client must EHLO again.</summary>
    public void ResumeAfterTls()
    {
        lock (_gate)
        {
            _mode = ClientMode.Command;
            _phase = SessionPhase.Greeted;
            _saslOpen = false;
            _saslChallenges = 0;
            _pending.Clear();
            _replyWait = null;
            _released = null;
            UpstreamEhlo = null;
        }
    }

    /// <summary>Marks open transactions as abandoned and releases message state when the session ends.</summary>
    public void Close(string why)
    {
        lock (_gate)
        {
            foreach (var tx in _transactions.Where(t => t.FinalReply is null && t.Abandoned is null))
            {
                tx.Abandoned = why;
            }

            _digest?.Dispose();
            _digest = null;
            Release(DialogueStep.End);
        }

        CompleteReleasedWait();
    }

    /// <summary>Wakes the client pump waiting for a DATA or STARTTLS reply, once that reply has been forwarded.</summary>
    /// <remarks>Called by the upstream pump outside the lock, so the client pump can carry on inline on this
    /// thread instead of costing a thread-pool hop per message.</remarks>
    public void CompleteReleasedWait()
    {
        // Called after every upstream read; only the read that carried a DATA or STARTTLS reply finds one.
        if (_released is null)
        {
            return;
        }

        TaskCompletionSource<DialogueStep>? released;
        DialogueStep step;
        lock (_gate)
        {
            (released, step) = (_released, _releasedStep);
            _released = null;
        }

        released?.TrySetResult(step);
    }

    private DialogueResult OnCommandLine(in ReadOnlySequence<byte> line)
    {
        var bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        if (_saslChallenges > 0 || _saslOpen)
        {
            // A SASL response (RFC 4954): credentials, whatever they look like. The relay holds the client after
            // AUTH until a reply, so an open exchange without a 334 to answer cannot happen; if it did, redacting
            // a command costs less than showing a secret.
            _saslChallenges = Math.Max(0, _saslChallenges - 1);
            var body = LineFramer.TrimTerminator(bytes);
            _transcript.Record(Direction.Client, EventKinds.AuthResponse, _options.Redact ? SaslRedaction.RedactResponse(body) : AsciiText.Escape(body));
            return _saslOpen ? AwaitUpstream() : DialogueResult.Continue;
        }

        var command = SmtpCommand.Parse(bytes);
        if (command.Verb != SmtpVerb.Auth && SaslRedaction.IsAuthCommand(LineFramer.TrimTerminator(bytes)))
        {
            // AUTH<TAB>PLAIN<TAB>token: servers that split on any white space run the exchange, so it is followed as one.
            command = command with { Verb = SmtpVerb.Auth, VerbText = "AUTH", Arguments = string.Empty };
            Anomaly("command-syntax", "AUTH command with separators other than one SP (RFC 5321 4.1.1: one SP between verb and arguments)", Direction.Client);
        }

        var text = DisplayText(command, bytes);
        _transcript.Record(Direction.Client, EventKinds.Command, text, EventData.Command(command.VerbText, command.Verb != SmtpVerb.Unknown));
        if (command.Anomalies != LineAnomalies.None)
        {
            Anomaly("command-syntax", $"command line has {command.Anomalies.Describe()}", Direction.Client);
        }

        if (_phase == SessionPhase.AwaitingGreeting)
        {
            Anomaly("early-talker", $"client sent {command.VerbText} before the upstream's greeting (RFC 5321 4.3.1)", Direction.Client);
        }
        else if (!SessionStateTable.IsLegal(_phase, command.Verb))
        {
            Anomaly("out-of-sequence", $"{command.VerbText} is out of sequence after phase {_phase}", Direction.Client);
        }

        _phase = SessionStateTable.After(_phase, command.Verb);
        var pending = new Pending(PendingKind.Command, command, _current);
        switch (command.Verb)
        {
            case SmtpVerb.Ehlo or SmtpVerb.Helo or SmtpVerb.Lhlo:
                ClientHelo = command.Arguments;
                Abandon("new EHLO/HELO");
                break;
            case SmtpVerb.Mail:
                _current = new Transaction(_transactions.Count + 1, command.Path ?? command.Arguments);
                _transactions.Add(_current);
                pending = pending with { Transaction = _current };
                break;
            case SmtpVerb.Rset:
                Abandon("RSET");
                break;
            case SmtpVerb.Auth:
                _saslOpen = true;
                _pending.Enqueue(pending);
                return AwaitUpstream();
            case SmtpVerb.Data or SmtpVerb.StartTls:
                _pending.Enqueue(pending);
                _mode = ClientMode.AwaitingReply;
                _replyWait = new TaskCompletionSource<DialogueStep>();
                return new DialogueResult(DialogueStep.AwaitReply);
            case SmtpVerb.Bdat:
                if (!BdatArguments.TryParse(command.Arguments, out var bdat))
                {
                    Anomaly("bdat-length", $"BDAT with an unusable chunk size \"{command.Arguments}\"; content boundaries are unknown", Direction.Client);
                    break;
                }

                var tx = _current ??= NewOrphanTransaction();
                if (_digest is null)
                {
                    _digest = NewDigest();
                    tx.Method = "BDAT";
                    _messageTransaction = tx;
                }

                _bdatRemaining = bdat.ChunkSize;
                _bdatLast = bdat.Last;
                pending = pending with { Transaction = tx, LastChunk = bdat.Last };
                _mode = ClientMode.Bdat;
                break;
        }

        _pending.Enqueue(pending);
        return DialogueResult.Continue;
    }

    private DialogueResult OnReplyLine(in ReadOnlySequence<byte> line)
    {
        var bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        var body = LineFramer.TrimTerminator(bytes);
        var raw = AsciiText.Escape(body);
        if (!ReplyLine.TryParse(body, out var replyLine))
        {
            _transcript.Record(Direction.Server, EventKinds.Reply, raw, new Dictionary<string, object?> { ["malformed"] = true });
            Anomaly("reply-syntax", "upstream sent a line that is not an SMTP reply (no 3-digit code)", Direction.Server);
            return DialogueResult.Continue;
        }

        _transcript.Record(Direction.Server, EventKinds.Reply, raw, EventData.Reply(replyLine.Code, replyLine.IsLast));
        var anomalies = LineFramer.Inspect(bytes);
        if (anomalies != LineAnomalies.None)
        {
            Anomaly("reply-syntax", $"reply line has {anomalies.Describe()}", Direction.Server);
        }

        var reply = _replies.Add(replyLine, raw);
        return reply is null ? DialogueResult.Continue : OnReply(reply);
    }

    private DialogueResult OnReply(SmtpReply reply)
    {
        if (reply.HasMixedCodes)
        {
            Anomaly("mixed-reply-codes", $"multi-line reply mixes codes {string.Join("/", reply.Lines.Select(l => l.Code).Distinct())} (RFC 5321 4.2.1 requires one)", Direction.Server);
        }

        if (!_pending.TryPeek(out var pending))
        {
            Anomaly("unsolicited-reply", $"upstream sent {reply.Code} with no command outstanding", Direction.Server);
            return DialogueResult.Continue;
        }

        if (pending.Command?.Verb == SmtpVerb.Auth && reply.Code == 334)
        {
            _saslChallenges++;
            ResumeClient();
            return DialogueResult.Continue;
        }

        _pending.Dequeue();
        if (pending.Kind == PendingKind.Greeting)
        {
            Greeting = reply;
            if (_phase == SessionPhase.AwaitingGreeting)
            {
                _phase = SessionPhase.Greeted;
            }

            return DialogueResult.Continue;
        }

        if (pending.Kind == PendingKind.DataEnd)
        {
            Finalize(pending.Transaction, reply);
            return DialogueResult.Continue;
        }

        var tx = pending.Transaction;
        switch (pending.Command!.Verb)
        {
            case SmtpVerb.Ehlo or SmtpVerb.Lhlo when EhloReply.From(reply) is { } ehlo:
                UpstreamEhlo = ehlo;
                _transcript.Record(Direction.Proxy, EventKinds.Ehlo, $"upstream capabilities: {string.Join(", ", ehlo.Keywords.Select(k => k.Keyword))}", new Dictionary<string, object?>
                {
                    ["domain"] = ehlo.Domain,
                    ["keywords"] = ehlo.Keywords.Select(k => new Dictionary<string, string> { ["keyword"] = k.Keyword, ["params"] = k.Parameters, ["raw"] = k.RawLine }).ToList(),
                });
                break;
            case SmtpVerb.Mail when reply.Class != 2:
                Finalize(tx, reply);
                if (_phase == SessionPhase.MailGiven)
                {
                    _phase = SessionPhase.Identified;
                }

                if (_current == tx)
                {
                    _current = null;
                }

                break;
            case SmtpVerb.Rcpt when tx is not null:
                if (reply.Class == 2)
                {
                    tx.RecipientsAccepted++;
                }
                else
                {
                    tx.RecipientsRejected++;
                }

                break;
            case SmtpVerb.Data:
                if (reply.Code == 354)
                {
                    _scanner = new DataContentScanner();
                    _digest = NewDigest();
                    var dataTx = tx ?? (_current ??= NewOrphanTransaction());
                    dataTx.Method = "DATA";
                    _messageTransaction = dataTx;
                    _pending.Enqueue(new Pending(PendingKind.DataEnd, null, dataTx));
                    _mode = ClientMode.Data;
                }
                else
                {
                    Finalize(tx, reply);
                    _mode = ClientMode.Command;
                    _phase = SessionPhase.Identified;
                }

                Release(DialogueStep.Continue);
                break;
            case SmtpVerb.Bdat:
                if (reply.Class != 2 || pending.LastChunk)
                {
                    Finalize(tx, reply);
                }

                break;
            case SmtpVerb.StartTls:
                if (reply.Code == 220)
                {
                    _mode = ClientMode.Tls;
                    _transcript.Record(Direction.Proxy, EventKinds.StartTls, "upstream accepted STARTTLS (220); both sides now speak TLS");
                    Release(DialogueStep.TlsUpgrade);
                    return new DialogueResult(DialogueStep.TlsUpgrade);
                }

                _phase = SessionPhase.Identified;
                _mode = ClientMode.Command;
                Release(DialogueStep.Continue);
                break;
            case SmtpVerb.Auth:
                // A challenge still unanswered keeps its claim on the next client line (prefer redacting).
                _saslOpen = false;
                ResumeClient();
                break;
            case SmtpVerb.Quit when reply.Code == 221:
                QuitAcknowledged = true;
                break;
        }

        return DialogueResult.Continue;
    }

    private bool ScanData(ref ReadOnlySequence<byte> buffer)
    {
        var consumed = 0L;
        foreach (var segment in buffer)
        {
            consumed += _scanner!.Scan(segment.Span, _digest!);
            if (_scanner.Complete)
            {
                break;
            }
        }

        buffer = buffer.Slice(consumed);
        if (!_scanner!.Complete)
        {
            return false;
        }

        FinishMessage(_scanner.Anomalies);
        _scanner = null;
        _mode = ClientMode.Command;
        _phase = SessionPhase.Identified;
        return true;
    }

    private bool TakeChunk(ref ReadOnlySequence<byte> buffer)
    {
        var take = Math.Min(_bdatRemaining, buffer.Length);
        foreach (var segment in buffer.Slice(0, take))
        {
            _digest?.Write(segment.Span);
        }

        buffer = buffer.Slice(take);
        _bdatRemaining -= take;
        if (_bdatRemaining > 0)
        {
            return false;
        }

        _mode = ClientMode.Command;
        if (_bdatLast)
        {
            FinishMessage(DotAnomalies.None);
            _phase = SessionPhase.Identified;
        }

        return true;
    }

    private void FinishMessage(DotAnomalies anomalies)
    {
        var digest = _digest!;
        _digest = null;
        var tx = _messageTransaction ?? _current ?? NewOrphanTransaction();
        _messageTransaction = null;
        tx.Sha256 = digest.Finish();
        tx.Size = digest.Size;
        // Sized up front: growing from the default capacity reallocated the entries twice per message.
        var data = new Dictionary<string, object?>(8)
        {
            ["message"] = _messages,
            ["transaction"] = tx.Number,
            ["method"] = tx.Method,
            ["size"] = digest.Size,
            ["sha256"] = tx.Sha256,
            ["headers"] = digest.Headers,
            ["headersTruncated"] = digest.HeadersTruncated,
        };
        if (anomalies != DotAnomalies.None)
        {
            data["contentAnomalies"] = anomalies.ToString();
        }

        _transcript.Record(Direction.Proxy, EventKinds.Message, $"message {_messages} ({tx.Method}): {digest.Size} bytes, sha256 {tx.Sha256}", data);
        if ((anomalies & (DotAnomalies.BareLfDot | DotAnomalies.BareCrDot | DotAnomalies.HalfTerminator)) != 0)
        {
            Anomaly("smuggling-pattern", $"message content has an ambiguous end-of-data pattern ({anomalies}); receivers may disagree where the message ends", Direction.Client);
        }

        digest.Dispose();
        _current = null;
    }

    private MessageDigest NewDigest()
    {
        _messages++;
        return new MessageDigest(_options.MaxHeaderBytes, _options.OpenCapture?.Invoke(_messages));
    }

    private Transaction NewOrphanTransaction()
    {
        var tx = new Transaction(_transactions.Count + 1, "(no MAIL FROM seen)");
        _transactions.Add(tx);
        return tx;
    }

    private void Finalize(Transaction? tx, SmtpReply reply)
    {
        if (tx is null || tx.FinalReply is not null)
        {
            return;
        }

        tx.FinalReply = reply;
        _transcript.Record(Direction.Proxy, EventKinds.Transaction, tx.Describe(), new Dictionary<string, object?>(9)
        {
            ["transaction"] = tx.Number,
            ["mailFrom"] = tx.MailFrom,
            ["recipients"] = tx.RecipientsAccepted,
            ["recipientsRefused"] = tx.RecipientsRejected,
            ["method"] = tx.Method,
            ["size"] = tx.Size,
            ["sha256"] = tx.Sha256,
            ["code"] = reply.Code,
            ["reply"] = reply.RawLines[^1],
        });
    }

    private void Abandon(string why)
    {
        if (_current is { FinalReply: null, Abandoned: null } tx)
        {
            tx.Abandoned = why;
        }

        _current = null;
    }

    private void Release(DialogueStep step)
    {
        if (_replyWait is { } wait)
        {
            _releasedStep = step;
            _released = wait;
        }

        _replyWait = null;
    }

    private DialogueResult EndOfClient(in ReadOnlySequence<byte> rest)
    {
        switch (_mode)
        {
            case ClientMode.Data or ClientMode.Bdat:
                _transcript.Record(Direction.Proxy, EventKinds.Error, "client closed the connection in the middle of message content; the upstream never saw end-of-data and will discard it");
                return DialogueResult.End(SessionEndReason.ClientClosedMidMessage);
            case ClientMode.Command when !rest.IsEmpty:
                var partial = rest.Length > 200 ? rest.Slice(0, 200) : rest;
                var shown = _options.Redact && (_saslOpen || _saslChallenges > 0 || SaslRedaction.MayBeAuthCommand(partial)) ? $"<redacted partial AUTH data, {rest.Length} bytes>" : AsciiText.Escape(partial);
                _transcript.Record(Direction.Proxy, EventKinds.Error, $"client closed the connection mid-line after {rest.Length} bytes without a line end: {shown}");
                return DialogueResult.End(SessionEndReason.ClientClosedMidLine);
            default:
                return DialogueResult.End(QuitAcknowledged ? SessionEndReason.Quit : SessionEndReason.ClientClosed);
        }
    }

    private DialogueResult EndOfServer(in ReadOnlySequence<byte> rest)
    {
        if (!rest.IsEmpty || _replies.InProgress)
        {
            _transcript.Record(Direction.Proxy, EventKinds.Error, $"upstream closed the connection in the middle of a reply ({rest.Length} bytes without a line end)");
            return DialogueResult.End(SessionEndReason.UpstreamClosedMidLine);
        }

        if (_mode is ClientMode.Data or ClientMode.Bdat || (_mode == ClientMode.AwaitingReply && _digest is not null))
        {
            _transcript.Record(Direction.Proxy, EventKinds.Error, "upstream closed the connection while the client was sending a message; the client is disconnected without a reply");
            return DialogueResult.End(SessionEndReason.UpstreamClosedMidMessage);
        }

        return DialogueResult.End(QuitAcknowledged ? SessionEndReason.Quit : SessionEndReason.UpstreamClosed);
    }

    /// <summary>Parses nothing more from the client until the upstream's next reply says what the next line is.</summary>
    private DialogueResult AwaitUpstream()
    {
        _mode = ClientMode.AwaitingReply;
        _replyWait = new TaskCompletionSource<DialogueStep>();
        return new DialogueResult(DialogueStep.AwaitReply);
    }

    /// <summary>The reply the client waited for after AUTH or a SASL response came.</summary>
    private void ResumeClient()
    {
        if (_mode == ClientMode.AwaitingReply)
        {
            _mode = ClientMode.Command;
            Release(DialogueStep.Continue);
        }
    }

    private void Anomaly(string code, string text, Direction leg) =>
        _transcript.Record(Direction.Proxy, EventKinds.Anomaly, text, new Dictionary<string, object?> { ["anomaly"] = code, ["leg"] = leg == Direction.Client ? "client" : "upstream" });

    private string DisplayText(SmtpCommand command, ReadOnlySpan<byte> line)
    {
        var body = LineFramer.TrimTerminator(line);
        // AUTH mechanism [initial-response]: the mechanism is useful, the response is a credential.
        return command.Verb == SmtpVerb.Auth && _options.Redact ? SaslRedaction.RedactAuthCommand(body) : AsciiText.Escape(body);
    }

    private static string StageOf(SmtpVerb verb) => verb switch
    {
        SmtpVerb.Ehlo or SmtpVerb.Helo or SmtpVerb.Lhlo => "ehlo",
        SmtpVerb.StartTls => "starttls",
        SmtpVerb.Auth => "auth",
        SmtpVerb.Mail => "mail",
        SmtpVerb.Rcpt => "rcpt",
        SmtpVerb.Data or SmtpVerb.Bdat => "data",
        SmtpVerb.Rset => "rset",
        SmtpVerb.Quit => "quit",
        _ => "command",
    };

    private sealed record Pending(PendingKind Kind, SmtpCommand? Command, Transaction? Transaction, bool LastChunk = false);
}

/// <summary>The dialogue's knobs, fixed for a session.</summary>
internal sealed record DialogueOptions
{
    /// <summary>Longest command or reply line, CRLF included. Well above RFC 5321's 512 to tolerate real MTAs.</summary>
    public int MaxLineLength { get; init; } = 16 * 1024;

    public bool Redact { get; init; } = true;

    public int MaxHeaderBytes { get; init; } = 64 * 1024;

    /// <summary>Opens the capture file for message n, or returns null.</summary>
    public Func<int, Stream?>? OpenCapture { get; init; }
}
