using SmtpLens.Findings;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Findings;

/// <summary>The engine: per-session analysis, live recording, and the same findings from a saved transcript.</summary>
public sealed class FindingEngineTests : IDisposable
{
    private const string Masked = """
        S: 220 ****************************2*0***0****
        C: EHLO mail.fabrikam.com
        S: 250-mail.contoso.com Hello [192.0.2.10]
        S: 250-XXXXXXXA
        S: 250 CHUNKING
        C: MAIL FROM:<a@fabrikam.com>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@contoso.com>
        S: 450 4.7.1 Client host [192.0.2.10] rejected: listed at zen.spamhaus.org, see https://check.spamhaus.org/
        C: QUIT
        S: 221 2.0.0 Bye
        S! close
        C! close
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smtplens-findings-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task LiveSession_RecordsEachFindingRightAfterItsEvent_AndAnalyzeOfTheSavedJsonlAgrees()
    {
        var time = new FakeTimeProvider(SessionEvents.Start);
        var info = new SessionInfo("20261122T050000000Z-000007-live", "it", null, null);
        IReadOnlyList<Finding> live;
        await using (var transcript = new SessionTranscript(info, new TranscriptOptions { Directory = _dir, Instance = "unit" }, time))
        {
            var findings = new SessionFindings(transcript, null);
            Replay(transcript, Masked);
            transcript.Record(Direction.Proxy, EventKinds.Disconnect, "session ended: Quit (QUIT answered)", new Dictionary<string, object?> { ["end"] = "Quit" });
            live = findings.Findings;
        }

        var saved = JsonLinesTranscriptReader.Read(Path.Combine(_dir, info.SessionId + ".jsonl"));
        var offline = FindingEngine.Analyze(saved);

        Assert.Equal(
            [FindingCodes.BannerMasked, FindingCodes.EhloKeywordMasked, FindingCodes.StartTlsNotOffered, FindingCodes.BlocklistRejection, FindingCodes.UpstreamDeferral],
            live.Select(f => f.Code));
        Assert.Equal(live.Select(f => f.Signature), offline.Select(f => f.Signature));
        Assert.Equal(live.Select(f => f.At), offline.Select(f => f.At));

        // Each finding event follows the event that raised it, and carries the finding's data.
        var recorded = saved.Where(e => e.Kind == FindingEngine.EventKind).ToList();
        Assert.Equal(live.Select(f => f.Signature), recorded.Select(e => Finding.FromData(e.Session, e.Data)!.Signature));
        var banner = recorded[0];
        Assert.Equal(EventKinds.Reply, saved.Single(e => e.Seq == banner.Seq - 1).Kind);
        Assert.Equal("finding WARNING BANNER_MASKED (upstream leg): the greeting is masked: 220 ****************************2*0***0****", banner.Text);
        var log = File.ReadAllText(Path.Combine(_dir, info.SessionId + ".log"));
        Assert.Contains("* finding WARNING EHLO_KEYWORD_MASKED (upstream leg): EHLO keyword \"XXXXXXXA\" is masked", log, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_SeparatesSessions_AndIgnoresRecordedFindingEvents()
    {
        var a = new SessionEvents().Smtp(Masked).Disconnect().Events;
        var b = HealthyDialogues.Tls(HealthyDialogues.PostfixBeforeTls, HealthyDialogues.PostfixInsideTls, "mx.example.org", ["mx.example.org"]).Events
            .Select(e => e with { Session = "other" })
            .ToList();
        var findingEvent = new TranscriptEvent("other", 999, SessionEvents.Start, Direction.Proxy, FindingEngine.EventKind, "finding ERROR CERT_EXPIRED", new Dictionary<string, object?> { ["code"] = "CERT_EXPIRED", ["title"] = "x" });

        var findings = FindingEngine.Analyze([.. b, findingEvent, .. a]);

        Assert.All(findings, f => Assert.Equal(SessionEvents.SessionId, f.Session));
        Assert.Equal(5, findings.Count);
    }

    [Fact]
    public void Observe_ReturnsFindingsAsTheyArise_AndCompleteOnlyOnce()
    {
        var engine = new FindingEngine();
        var events = new SessionEvents().Smtp(HealthyDialogueFindingTests.Text("exchange-eop-seed000")).Events;
        var raisedAt = new List<long>();
        foreach (var e in events)
        {
            if (engine.Observe(e).Count > 0)
            {
                raisedAt.Add(e.Seq);
            }
        }

        // STARTTLS_NOT_OFFERED waits for the client's next move: the QUIT.
        var quit = events.Single(e => e.Kind == EventKinds.Command && e.Text == "QUIT");
        Assert.Equal([quit.Seq], raisedAt);
        Assert.Empty(engine.Complete());
        Assert.Empty(engine.Complete());
        Assert.True(engine.Completed);
        Assert.Single(engine.Findings);
    }

    [Fact]
    public void ClientClosesAfterEhloWithoutStartTls_TheEndDecides()
    {
        var engine = new FindingEngine();
        foreach (var e in new SessionEvents().Smtp("""
            S: 220 mx.example.org ESMTP
            C: EHLO client.example.com
            S: 250-mx.example.org
            S: 250 8BITMIME
            C! close
            S! close
            """).Events)
        {
            Assert.Empty(engine.Observe(e));
        }

        var atEnd = Assert.Single(engine.Complete());
        Assert.Equal(FindingSeverity.Warning, atEnd.Severity);
    }

    [Fact]
    public void FindingData_RoundTripsThroughJson()
    {
        var finding = Assert.Single(new SessionEvents().Smtp(HealthyDialogueFindingTests.Text("exchange-eop-seed000")).Disconnect().Findings);
        var path = Path.Combine(Directory.CreateDirectory(_dir).FullName, "one.jsonl");
        var e = new TranscriptEvent(finding.Session, 42, finding.At, Direction.Proxy, FindingEngine.EventKind, finding.Headline, finding.ToData());
        using (var stream = File.Create(path))
        using (var json = new System.Text.Json.Utf8JsonWriter(stream))
        {
            JsonLinesTranscriptFormat.WriteObject(json, e, "unit");
        }

        var back = Finding.FromData(finding.Session, JsonLinesTranscriptReader.Read(path).Single().Data);

        Assert.NotNull(back);
        Assert.Equal(finding.Signature, back.Signature);
        Assert.Equal(finding.Causes, back.Causes);
        Assert.Equal(finding.NextStep, back.NextStep);
        Assert.Equal(finding.Explanation, back.Explanation);
        Assert.Equal(finding.At, back.At);
        Assert.Equal(finding.Evidence, back.Evidence);
    }

    [Fact]
    public void FindingJson_IsOneFlatLine()
    {
        var finding = Assert.Single(new SessionEvents().Smtp(HealthyDialogueFindingTests.Text("exchange-eop-seed000")).Disconnect().Findings);

        var line = FindingJson.ToLine(finding, "edge1");

        using var doc = System.Text.Json.JsonDocument.Parse(line);
        Assert.DoesNotContain('\n', line);
        Assert.Equal("edge1", doc.RootElement.GetProperty("instance").GetString());
        Assert.Equal("STARTTLS_NOT_OFFERED", doc.RootElement.GetProperty("code").GetString());
        Assert.Equal("warning", doc.RootElement.GetProperty("severity").GetString());
        Assert.Equal("upstream", doc.RootElement.GetProperty("leg").GetString());
        var evidence = doc.RootElement.GetProperty("evidence");
        Assert.Equal("C: QUIT", evidence[evidence.GetArrayLength() - 1].GetProperty("text").GetString());
        Assert.Equal(finding.Session, doc.RootElement.GetProperty("session").GetString());
    }

    [Fact]
    public void Catalog_HasEveryCode_WithCausesAndNextStep()
    {
        var codes = typeof(FindingCodes).GetFields().Select(f => (string)f.GetValue(null)!).ToList();

        Assert.Equal(codes.Order(), FindingCatalog.All.Select(d => d.Code).Order());
        Assert.All(FindingCatalog.All, d =>
        {
            Assert.NotEmpty(d.Causes);
            Assert.NotEmpty(d.NextStep);
            Assert.StartsWith($"finding {Finding.SeverityName(d.Severity).ToUpperInvariant()} {d.Code} (", d.Example, StringComparison.Ordinal);
        });
    }

    private static void Replay(ITranscriptRecorder transcript, string script) =>
        DialogueReplayer.Feed(new SmtpDialogue(transcript, new DialogueOptions()), DialogueScript.Parse("inline", script));
}
