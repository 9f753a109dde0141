using System.Text;
using SmtpLens.Report;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Report;

/// <summary>The report's model over events from the real dialogue tracker (recorded dialogues) and hand-made edge cases.</summary>
public sealed class ReportModelTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 5, 3, 21, TimeSpan.Zero);

    /// <summary>A replayed dialogue as the saved transcript of one session, an event per millisecond.</summary>
    private static List<TranscriptEvent> Transcript(string dialogue, DialogueOptions? options = null) =>
        ToEvents(DialogueReplayer.Run(dialogue, FeedMode.Whole, options).Events.Select(e => (e.Direction, e.Kind, e.Text, e.Data)));

    private static List<TranscriptEvent> ToEvents(IEnumerable<(Direction Direction, string Kind, string Text, IReadOnlyDictionary<string, object?>? Data)> events) =>
        [.. events.Select((e, i) => new TranscriptEvent("20261122T050321000Z-000001-abcd", i + 1, Start.AddMilliseconds(i), e.Direction, e.Kind, e.Text, e.Data))];

    private static Dictionary<string, object?> Reply(int code, bool last = true) => new() { ["code"] = (long)code, ["last"] = last };

    private static Dictionary<string, object?> Verb(string verb) => new() { ["verb"] = verb };

    [Fact]
    public void Ladder_PipelinedDialogue_CommandsInOrderAndPipelinedGroupMarked()
    {
        var session = ReportSession.FromEvents(Transcript("pipelined"), "lens-a")!;

        var commands = session.Ladder.Where(s => s.Kind == LadderStepKind.Command).ToList();
        Assert.Equal(["EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "DATA"], commands.Take(6).Select(c => c.Text.Split(' ')[0]));
        Assert.Equal(commands.Select(c => c.Seq).Order(), commands.Select(c => c.Seq));
        // MAIL, three RCPTs and DATA went out before any of their replies: one group; EHLO waited for its reply.
        Assert.Equal(0, commands[0].Group);
        Assert.True(commands[1].Group > 0);
        Assert.All(commands.Skip(1).Take(5), c => Assert.Equal(commands[1].Group, c.Group));
        Assert.Equal("lens-a", session.Instance);
    }

    [Fact]
    public void Ladder_MultiLineEhloReply_IsOneStepWithItsContinuationLines()
    {
        var events = Transcript("postfix-esmtp");
        var session = ReportSession.FromEvents(events, "a")!;

        var ehloReply = session.Ladder.First(s => s.Kind == LadderStepKind.Reply && s.Text.StartsWith("250-", StringComparison.Ordinal));
        var lines = events.Where(e => e.Kind == EventKinds.Reply).SkipWhile(e => !e.Text.StartsWith("250-", StringComparison.Ordinal)).TakeWhile(e => e.Text.StartsWith("250-", StringComparison.Ordinal)).Count() + 1;
        Assert.Equal(lines - 1, ehloReply.Detail.Count);
        Assert.StartsWith("250 ", ehloReply.Detail[^1], StringComparison.Ordinal);
        Assert.Equal(events.Count(e => e.Kind == EventKinds.Reply && Equals(e.Data?["last"], true)), session.Ladder.Count(s => s.Kind == LadderStepKind.Reply));
    }

    [Fact]
    public void Ladder_MessageContent_CollapsedToSizeAndSha256()
    {
        var events = Transcript("postfix-esmtp");
        var message = events.First(e => e.Kind == EventKinds.Message);
        var session = ReportSession.FromEvents(events, "a")!;

        var step = Assert.Single(session.Ladder, s => s.Kind == LadderStepKind.Message);
        Assert.Equal($"DATA content: {message.Data!["size"]} bytes, sha256 {message.Data["sha256"]}", step.Text);
        Assert.Equal(SessionOutcome.Delivered, session.Outcome);
    }

    [Fact]
    public void FromEvents_UpstreamUnreachable_DeferredAndThe421DrawnAsSmtpLensAnswer()
    {
        var session = ReportSession.FromEvents(ToEvents(
        [
            (Direction.Proxy, EventKinds.Connect, "client 127.0.0.1:5000 connected", new Dictionary<string, object?> { ["client"] = "127.0.0.1:5000", ["listener"] = "l1" }),
            (Direction.Proxy, EventKinds.UpstreamFailed, "cannot connect to upstream 127.0.0.1:9", new Dictionary<string, object?> { ["upstream"] = "127.0.0.1:9" }),
            (Direction.Proxy, EventKinds.ProxyReply, "421 4.4.0 SmtpLens: upstream 127.0.0.1:9 unreachable (refused)", Reply(421)),
            (Direction.Proxy, EventKinds.Disconnect, "session ended: UpstreamUnreachable", new Dictionary<string, object?> { ["end"] = "UpstreamUnreachable" }),
        ]), "a")!;

        Assert.Equal(SessionOutcome.Deferred, session.Outcome);
        Assert.Equal("127.0.0.1:9", session.Upstream);
        var answer = Assert.Single(session.Ladder, s => s.Kind == LadderStepKind.Answered);
        Assert.StartsWith("421 4.4.0 SmtpLens", answer.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(session.Ladder, s => s.Kind == LadderStepKind.Reply);
    }

    [Fact]
    public void Ladder_Simulation_OnlyTheReplyTheMiddleboxAnsweredIsDrawnFromSmtpLens()
    {
        var simulated = new Dictionary<string, object?> { ["simulated"] = true };
        var session = ReportSession.FromEvents(ToEvents(
        [
            (Direction.Proxy, EventKinds.Simulation, "SIMULATION ACTIVE on listener l: refuse-starttls. Lines marked SIMULATED were changed or answered on purpose; they are not observations of the upstream.", simulated),
            (Direction.Server, EventKinds.Reply, "220 mx ESMTP", Reply(220)),
            (Direction.Client, EventKinds.Command, "STARTTLS", Verb("STARTTLS")),
            (Direction.Proxy, EventKinds.Simulation, "SIMULATED middlebox: answered STARTTLS with 454 instead of forwarding it: client sent \"STARTTLS\", middlebox answered \"454 4.7.0 TLS not available\"", simulated),
            (Direction.Server, EventKinds.Reply, "454 4.7.0 TLS not available", Reply(454)),
        ]), "a")!;

        Assert.Equal(
            [LadderStepKind.Simulated, LadderStepKind.Reply, LadderStepKind.Command, LadderStepKind.Simulated, LadderStepKind.Answered],
            session.Ladder.Where(s => s.Kind != LadderStepKind.Finding).Select(s => s.Kind));
    }

    [Theory]
    [InlineData(550, "MAIL", "rejected")]
    [InlineData(451, "RCPT", "deferred")]
    [InlineData(502, "VRFY", "aborted")]
    [InlineData(554, null, "rejected")]
    public void Classify_ReplyToTheMail_DecidesTheOutcome(int code, string? verb, string expected)
    {
        var events = new List<(Direction, string, string, IReadOnlyDictionary<string, object?>?)>();
        if (verb is not null)
        {
            events.Add((Direction.Server, EventKinds.Reply, "220 mx ESMTP", Reply(220)));
            events.Add((Direction.Client, EventKinds.Command, verb + " x", Verb(verb)));
        }

        events.Add((Direction.Server, EventKinds.Reply, $"{code} no", Reply(code)));
        events.Add((Direction.Client, EventKinds.Command, "QUIT", Verb("QUIT")));
        events.Add((Direction.Server, EventKinds.Reply, "221 bye", Reply(221)));

        Assert.Equal(expected, SessionOutcomes.Name(ReportSession.FromEvents(ToEvents(events), "a")!.Outcome));
    }

    [Fact]
    public void Classify_FailedHandshake_TlsFailedAndDrawnAsAFailedBlock()
    {
        var leg = new Dictionary<string, object?> { ["leg"] = "client", ["completed"] = false, ["failure"] = "no shared cipher suite", ["clientHello"] = new Dictionary<string, object?> { ["sni"] = "mx.example" } };
        var session = ReportSession.FromEvents(ToEvents(
        [
            (Direction.Server, EventKinds.Reply, "220 mx ESMTP", Reply(220)),
            (Direction.Client, EventKinds.Command, "STARTTLS", Verb("STARTTLS")),
            (Direction.Server, EventKinds.Reply, "220 go ahead", Reply(220)),
            (Direction.Proxy, EventKinds.TlsFailed, "client leg: no shared cipher suite", leg),
            (Direction.Proxy, EventKinds.Disconnect, "session ended", new Dictionary<string, object?> { ["end"] = "TlsHandshakeFailed" }),
        ]), "a")!;

        Assert.Equal(SessionOutcome.TlsFailed, session.Outcome);
        var block = Assert.Single(session.Ladder, s => s.Kind == LadderStepKind.Handshake);
        Assert.Equal("client", block.Leg);
        Assert.Contains("failed: no shared cipher suite", block.Detail);
        Assert.Contains("SNI: mx.example", block.Detail);
        Assert.Equal("failed", Assert.Single(session.Tls).Completed ? "completed" : "failed");
    }

    [Fact]
    public void Html_TranscriptTextThatClosesTheScriptBlock_IsEscaped()
    {
        const string hostile = "</script><script>alert(1)</script><!--";
        var report = new IncidentReport(["t"]);
        report.Add(ReportSession.FromEvents(ToEvents(
        [
            (Direction.Server, EventKinds.Reply, "220 " + hostile, Reply(220)),
            (Direction.Client, EventKinds.Command, "EHLO " + hostile, Verb("EHLO")),
        ]), "a")!);

        var html = Render(report);

        // The page has exactly its own two script blocks; the hostile text survives only escaped.
        Assert.Equal(2, CountOf(html, "</script>"));
        Assert.DoesNotContain("<!--", html[html.IndexOf("report-data", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Contains("\\u003C/script\\u003E\\u003Cscript\\u003Ealert(1)", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Html_NoExternalReferences()
    {
        var report = new IncidentReport(["t"]);
        report.Add(ReportSession.FromEvents(Transcript("postfix-esmtp"), "a")!);

        var html = Render(report);

        Assert.DoesNotContain("src=\"http", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href=\"http", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.Ordinal);
        Assert.DoesNotContain("url(", html, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> AuthSecrets() => new()
    {
        { "auth-plain-initial", "AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdC1QNHNzdzByZCE=" },
        { "auth-login", "czNjcjN0LVA0c3N3MHJkIQ==" },
        { "auth-xoauth2", "dXNlcj1hbGljZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LmEwQWZINlNNQngtU0VDUkVULVRPS0VOAQE=" },
    };

    [Theory]
    [MemberData(nameof(AuthSecrets))]
    public void Html_SessionWithAuth_HoldsNoSecret(string dialogue, string secret)
    {
        var report = new IncidentReport(["t"]);
        report.Add(ReportSession.FromEvents(Transcript(dialogue), "a")!);

        var html = Render(report);

        Assert.Contains("redacted", html, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[..12], html, StringComparison.Ordinal);

        // The check can fail: the same dialogue transcribed with --no-redact puts the token in the page.
        var unredacted = new IncidentReport(["t"]);
        unredacted.Add(ReportSession.FromEvents(Transcript(dialogue, new DialogueOptions { Redact = false }), "a")!);
        Assert.Contains(secret[..12], Render(unredacted), StringComparison.Ordinal);
    }

    [Fact]
    public void Policies_FromTheTlsPolicyEvents_InOrder_LastWordCounts_AndInThePageData()
    {
        static (Direction, string, string, IReadOnlyDictionary<string, object?>?) Event(SmtpLens.Policy.PolicyVerdict v) => (Direction.Proxy, EventKinds.TlsPolicy, v.Line(), v.ToData());
        var facts = new Dictionary<string, object?> { ["mxHost"] = "mx.example.test" };
        var verify = new SmtpLens.Policy.PolicyVerdict("postfix:verify", SmtpLens.Policy.Verdict.Fail, "Server certificate not verified (unable to get local issuer certificate)", facts) { Sender = true };
        var may = new SmtpLens.Policy.PolicyVerdict("postfix:may", SmtpLens.Policy.Verdict.Pass, "Untrusted TLS connection established", facts);
        var sts = new SmtpLens.Policy.PolicyVerdict("mta-sts", SmtpLens.Policy.Verdict.NotApplicable, "MTA-STS not looked up (lookups are off: --policy-lookups)", facts);
        var events = Transcript("postfix-esmtp");
        events.AddRange(ToEvents([Event(may), Event(verify with { Verdict = SmtpLens.Policy.Verdict.Pass, Reason = "first word" }), Event(sts), Event(verify)]).Select(e => new TranscriptEvent(e.Session, e.Seq + 1000, e.Timestamp, e.Direction, e.Kind, e.Text, e.Data)));

        var session = ReportSession.FromEvents(events, "a")!;

        Assert.Equal(
            [new ReportVerdict("postfix:may", "pass", "Untrusted TLS connection established", false),
             new ReportVerdict("postfix:verify", "fail", "Server certificate not verified (unable to get local issuer certificate)", true),
             new ReportVerdict("mta-sts", "not-applicable", "MTA-STS not looked up (lookups are off: --policy-lookups)", false)],
            session.Policies);
        Assert.Empty(ReportSession.FromEvents(Transcript("postfix-esmtp"), "a")!.Policies);

        var report = new IncidentReport(["t"]);
        report.Add(session);
        using var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            ReportHtmlWriter.WriteData(json, report, Start);
        }

        using var doc = System.Text.Json.JsonDocument.Parse(buffer.ToArray());
        var pol = doc.RootElement.GetProperty("sessions")[0].GetProperty("pol");
        Assert.Equal(3, pol.GetArrayLength());
        Assert.Equal(("postfix:verify", "fail", "Server certificate not verified (unable to get local issuer certificate)", true), (pol[1][0].GetString(), pol[1][1].GetString(), pol[1][2].GetString(), pol[1][3].GetBoolean()));
    }

    [Fact]
    public void Add_SameIdFromTwoInstances_KeepsBoth()
    {
        var report = new IncidentReport(["a", "b"]);
        report.Add(ReportSession.FromEvents(Transcript("exim"), "lens-a")!);
        report.Add(ReportSession.FromEvents(Transcript("exim"), "lens-b")!);

        Assert.Equal(["lens-a", "lens-b"], report.Sessions.Select(s => s.Instance).Order());
    }

    private static string Render(IncidentReport report)
    {
        using var stream = new MemoryStream();
        ReportHtmlWriter.Write(stream, report, Start);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static int CountOf(string text, string part)
    {
        var n = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 1, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }
}
