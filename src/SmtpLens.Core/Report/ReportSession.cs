using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Report;

/// <summary>What the report shows of one TLS leg in the list and overview: the agreed version and suite.</summary>
internal sealed record ReportTlsLeg(string Leg, string? Version, string? Suite, bool Completed);

/// <summary>One tls-policy verdict as the report shows it: the policy, pass/fail/not-applicable, the deciding reason,
/// and whether the user named it as the real sender's policy (--sender-policy).</summary>
internal sealed record ReportVerdict(string Policy, string Verdict, string Reason, bool Sender);

/// <summary>One session as the report draws it, built from its (already redacted) transcript events.</summary>
internal sealed record ReportSession(
    string Id,
    string Instance,
    DateTimeOffset Start,
    long DurationMs,
    string Client,
    string Upstream,
    string Listener,
    SessionOutcome Outcome,
    string End,
    string EndDetail)
{
    public IReadOnlyList<ReportTlsLeg> Tls { get; init; } = [];

    /// <summary>Each leg's full record as the transcript carries it (offers, choice, certificates, alerts).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, object?>> TlsRecords { get; init; } = [];

    public IReadOnlyList<Finding> Findings { get; init; } = [];

    public IReadOnlyList<LadderStep> Ladder { get; init; } = [];

    public int Transactions { get; init; }

    /// <summary>The session's tls-policy verdicts, in the order they were recorded (empty when none were).</summary>
    public IReadOnlyList<ReportVerdict> Policies { get; init; } = [];

    /// <summary>The session's events (one session, any order); null when there are none.</summary>
    public static ReportSession? FromEvents(IEnumerable<TranscriptEvent> events, string instance)
    {
        var ordered = events.OrderBy(e => e.Seq).ToList();
        if (ordered.Count == 0)
        {
            return null;
        }

        var first = ordered[0];
        var summary = ordered.LastOrDefault(e => e.Kind == EventKinds.Summary)?.Data;
        var connect = ordered.FirstOrDefault(e => e.Kind == EventKinds.Connect)?.Data;
        var upstreamConnect = ordered.FirstOrDefault(e => e.Kind is EventKinds.UpstreamConnect or EventKinds.UpstreamFailed)?.Data;
        var end = EventFields.Text(summary, "end") ?? EventFields.Text(ordered.LastOrDefault(e => e.Kind == EventKinds.Disconnect)?.Data, "end") ?? "InProgress";
        var records = TlsRecordsOf(ordered, summary);
        var findings = FindingsOf(ordered);
        return new ReportSession(
            first.Session,
            instance,
            first.Timestamp,
            EventFields.Long(summary, "durationMs") ?? (long)(ordered[^1].Timestamp - first.Timestamp).TotalMilliseconds,
            EventFields.Text(summary, "client") ?? EventFields.Text(connect, "client") ?? string.Empty,
            EventFields.Text(summary, "upstream") ?? EventFields.Text(upstreamConnect, "upstream") ?? string.Empty,
            EventFields.Text(summary, "listener") ?? EventFields.Text(connect, "listener") ?? string.Empty,
            Classify(ordered, summary, records, end),
            end,
            EventFields.Text(summary, "endDetail") ?? string.Empty)
        {
            Tls = [.. records.Select(r => new ReportTlsLeg(EventFields.Text(r, "leg") ?? "?", EventFields.Text(r, "version"), EventFields.Text(r, "cipherSuite"), EventFields.Bool(r, "completed") == true))],
            TlsRecords = records,
            Findings = findings,
            Ladder = LadderOf(ordered, findings),
            Transactions = ordered.Count(e => e.Kind == EventKinds.Transaction),
            Policies = PoliciesOf(ordered),
        };
    }

    /// <summary>One verdict per policy; were a session judged twice, its last word counts.</summary>
    private static List<ReportVerdict> PoliciesOf(List<TranscriptEvent> events)
    {
        var verdicts = new List<ReportVerdict>();
        foreach (var e in events.Where(e => e.Kind == EventKinds.TlsPolicy))
        {
            if (EventFields.Text(e.Data, "policy") is not { } policy)
            {
                continue;
            }

            var verdict = new ReportVerdict(policy, EventFields.Text(e.Data, "verdict") ?? "?", EventFields.Text(e.Data, "reason") ?? string.Empty, EventFields.Bool(e.Data, "sender") == true);
            var at = verdicts.FindIndex(v => v.Policy == policy);
            if (at >= 0)
            {
                verdicts[at] = verdict;
            }
            else
            {
                verdicts.Add(verdict);
            }
        }

        return verdicts;
    }

    /// <summary>The summary's per-leg records; a session without a summary (still open, or cut off) falls back to
    /// the handshake events themselves, the last one per leg.</summary>
    private static List<IReadOnlyDictionary<string, object?>> TlsRecordsOf(List<TranscriptEvent> events, IReadOnlyDictionary<string, object?>? summary)
    {
        var fromSummary = EventFields.Maps(summary, "tls").ToList();
        if (fromSummary.Count > 0 || summary is not null)
        {
            return fromSummary;
        }

        return [.. events
            .Where(e => e.Kind is EventKinds.TlsHandshake or EventKinds.TlsFailed && EventFields.Text(e.Data, "leg") is not null)
            .GroupBy(e => EventFields.Text(e.Data, "leg"))
            .Select(g => g.Last().Data!)];
    }

    /// <summary>The findings the live run recorded; a transcript without any is analyzed again, as <c>analyze</c> does.</summary>
    private static List<Finding> FindingsOf(List<TranscriptEvent> events)
    {
        var recorded = events
            .Where(e => e.Kind == FindingEngine.EventKind)
            .Select(e => Finding.FromData(e.Session, e.Data))
            .OfType<Finding>()
            .ToList();
        return recorded.Count > 0 ? recorded : [.. FindingEngine.Analyze(events.Where(e => e.Kind != FindingEngine.EventKind))];
    }

    private static readonly HashSet<string> MailVerbs = new(StringComparer.OrdinalIgnoreCase) { "MAIL", "RCPT", "DATA", "BDAT" };

    /// <summary>Delivered beats everything (some mail got through); then a failed handshake; then what the
    /// upstream (or SmtpLens) said to the mail: 5xx rejected, 4xx deferred; else aborted.</summary>
    internal static SessionOutcome Classify(IReadOnlyList<TranscriptEvent> events, IReadOnlyDictionary<string, object?>? summary, IReadOnlyList<IReadOnlyDictionary<string, object?>> tls, string end)
    {
        var transactions = events.Where(e => e.Kind == EventKinds.Transaction).Select(e => EventFields.Long(e.Data, "code") ?? 0).ToList();
        if (transactions.Any(c => c is >= 200 and < 300) || EventFields.Maps(summary, "transactions").Any(t => EventFields.Bool(t, "accepted") == true))
        {
            return SessionOutcome.Delivered;
        }

        if (end is "TlsHandshakeFailed" or "TlsProtocolError"
            || events.Any(e => e.Kind == EventKinds.TlsFailed)
            || tls.Any(l => EventFields.Bool(l, "completed") == false))
        {
            return SessionOutcome.TlsFailed;
        }

        var rejected = transactions.Any(c => c >= 500);
        var deferred = transactions.Any(c => c is >= 400 and < 500) || end == "UpstreamUnreachable";
        string? verb = null;
        var greeting = true;
        foreach (var e in events)
        {
            if (e.Kind == EventKinds.Command)
            {
                verb = EventFields.Text(e.Data, "verb");
                greeting = false;
            }
            else if (e.Kind is EventKinds.Reply or EventKinds.ProxyReply && EventFields.Bool(e.Data, "last") != false)
            {
                var code = EventFields.Long(e.Data, "code") ?? ReplyCode(e.Text);
                var aboutMail = greeting || e.Kind == EventKinds.ProxyReply || (verb is not null && MailVerbs.Contains(verb));
                rejected |= aboutMail && code >= 500;
                deferred |= (aboutMail && code is >= 400 and < 500) || code == 421;
                greeting = false;
            }
        }

        return rejected ? SessionOutcome.Rejected : deferred ? SessionOutcome.Deferred : SessionOutcome.Aborted;
    }

    private static long ReplyCode(string text) =>
        text.Length >= 3 && char.IsAsciiDigit(text[0]) && char.IsAsciiDigit(text[1]) && char.IsAsciiDigit(text[2]) ? ((text[0] - '0') * 100) + ((text[1] - '0') * 10) + (text[2] - '0') : 0;

    /// <summary>The ladder: commands and replies in order, multi-line replies as one step, content collapsed,
    /// handshakes as blocks, and what SmtpLens itself did on its own lane.</summary>
    internal static List<LadderStep> LadderOf(IReadOnlyList<TranscriptEvent> events, IReadOnlyList<Finding> findings)
    {
        var steps = new List<LadderStep>();
        if (events.Count == 0)
        {
            return steps;
        }

        var start = events[0].Timestamp;
        long Offset(TranscriptEvent e) => (long)(e.Timestamp - start).TotalMilliseconds;
        List<string>? replyLines = null;
        TranscriptEvent? replyStart = null;
        var group = 0;
        var commandsSinceReply = new List<int>();
        var simulatedAnswer = false;

        void Add(TranscriptEvent e, LadderStepKind kind, string text, string? leg = null, IReadOnlyList<string>? detail = null) =>
            steps.Add(new LadderStep(e.Seq, Offset(e), kind, text, leg, 0, detail ?? []));

        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case EventKinds.Command:
                case EventKinds.AuthResponse:
                    commandsSinceReply.Add(steps.Count);
                    Add(e, LadderStepKind.Command, e.Text);
                    break;
                case EventKinds.Reply:
                    if (replyLines is null)
                    {
                        // Commands sent before this reply arrived went out as one pipelined group.
                        if (commandsSinceReply.Count > 1)
                        {
                            group++;
                            foreach (var i in commandsSinceReply)
                            {
                                steps[i] = steps[i] with { Group = group };
                            }
                        }

                        commandsSinceReply.Clear();
                        replyLines = [];
                        replyStart = e;
                    }

                    replyLines.Add(e.Text);
                    if (EventFields.Bool(e.Data, "last") != false)
                    {
                        // A reply a simulation rule answered never came from the upstream: draw it from SmtpLens.
                        var kind = simulatedAnswer ? LadderStepKind.Answered : LadderStepKind.Reply;
                        steps.Add(new LadderStep(replyStart!.Seq, Offset(replyStart), kind, replyLines[0], null, 0, replyLines.Count > 1 ? replyLines[1..] : []));
                        replyLines = null;
                        simulatedAnswer = false;
                    }

                    break;
                case EventKinds.Message:
                case EventKinds.Bdat:
                    Add(e, LadderStepKind.Message, e.Kind == EventKinds.Message
                        ? $"{EventFields.Text(e.Data, "method") ?? "DATA"} content: {EventFields.Long(e.Data, "size")} bytes, sha256 {EventFields.Text(e.Data, "sha256")}"
                        : e.Text);
                    break;
                case EventKinds.ProxyReply:
                    Add(e, LadderStepKind.Answered, e.Text);
                    break;
                case EventKinds.Simulation:
                    Add(e, LadderStepKind.Simulated, e.Text);
                    // SimulatedMiddlebox names its own replies so; the "SIMULATION ACTIVE" banner merely mentions answering.
                    simulatedAnswer = e.Text.Contains("middlebox answered \"", StringComparison.Ordinal);
                    break;
                case EventKinds.TlsHandshake or EventKinds.TlsFailed when EventFields.Text(e.Data, "leg") is { } leg:
                    Add(e, LadderStepKind.Handshake, e.Text, leg, HandshakeDetail(e.Data!));
                    break;
                case EventKinds.TlsFailed:
                    Add(e, LadderStepKind.Handshake, e.Text, e.Text.StartsWith("upstream", StringComparison.Ordinal) ? "upstream" : "client");
                    break;
                case EventKinds.TlsAlert:
                    Add(e, LadderStepKind.Alert, e.Text, EventFields.Text(e.Data, "leg"));
                    break;
                case FindingEngine.EventKind:
                    Add(e, LadderStepKind.Finding, EventFields.Text(e.Data, "severity")?.ToUpperInvariant() + " " + EventFields.Text(e.Data, "code"), EventFields.Text(e.Data, "leg"));
                    break;
                case EventKinds.Connect or EventKinds.UpstreamConnect or EventKinds.UpstreamFailed or EventKinds.StartTls or EventKinds.Anomaly
                    or EventKinds.Limit or EventKinds.Error or EventKinds.Disconnect or EventKinds.ProxyHeader or EventKinds.TlsHandshake:
                    Add(e, LadderStepKind.Note, e.Text);
                    break;
                default:
                    // ehlo, transaction, tls-clienthello, tls-certificate, summary: shown in the session's panels.
                    break;
            }
        }

        if (!events.Any(e => e.Kind == FindingEngine.EventKind))
        {
            // Findings analyzed afresh have no event of their own: mark them where their evidence ends.
            foreach (var f in findings)
            {
                var seq = f.Evidence.Count > 0 ? f.Evidence.Max(x => x.Seq) : events[^1].Seq;
                var at = events.LastOrDefault(e => e.Seq <= seq) ?? events[^1];
                steps.Add(new LadderStep(seq, Offset(at), LadderStepKind.Finding, Finding.SeverityName(f.Severity).ToUpperInvariant() + " " + f.Code, Finding.LegName(f.Leg), 0, []));
            }

            steps.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        }

        return steps;
    }

    private static List<string> HandshakeDetail(IReadOnlyDictionary<string, object?> leg)
    {
        var hello = EventFields.Map(leg, "clientHello");
        var lines = new List<string>
        {
            EventFields.Bool(leg, "completed") == true
                ? $"{EventFields.Text(leg, "version")} {EventFields.Text(leg, "cipherSuite")}"
                : $"failed: {EventFields.Text(leg, "failure")}",
            $"group: {EventFields.Text(leg, "keyExchange") ?? "?"} (offered {string.Join(", ", EventFields.Texts(hello, "supportedGroups").Take(4))})",
            $"SNI: {EventFields.Text(hello, "sni") ?? "(none)"}",
        };
        var alerts = EventFields.Maps(leg, "alerts").Select(a => $"{EventFields.Text(a, "level")} {EventFields.Text(a, "description")} by {EventFields.Text(a, "raisedBy")}").ToList();
        if (alerts.Count > 0)
        {
            lines.Add("alerts: " + string.Join(", ", alerts));
        }

        return lines;
    }
}
