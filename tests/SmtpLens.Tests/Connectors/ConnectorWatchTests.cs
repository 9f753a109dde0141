using SmtpLens.Connectors;
using SmtpLens.Findings;
using SmtpLens.Tests.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Connectors;

/// <summary><c>proxy --connectors</c>: live sessions record the connector their sender lands on, and the overlap is
/// raised in the session whose certificate adds a second host under the wildcard.</summary>
public sealed class ConnectorWatchTests
{
    private const string Wildcard = """
        [{ "Name": "Inbound from varunagroup", "ConnectorType": "OnPremises", "TlsSenderCertificateName": "*.varunagroup.de", "SenderDomains": ["*"] }]
        """;

    private static async Task<(SessionConnector Connector, SessionFindings Findings, List<TranscriptEvent> Events)> SessionAsync(ConnectorWatch watch, string id, string name, string ip)
    {
        var events = new List<TranscriptEvent>();
        await using var transcript = new SessionTranscript(new SessionInfo(id, "it", null, null), new TranscriptOptions(), TimeProvider.System);
        transcript.EventRecorded += events.Add;
        var findings = new SessionFindings(transcript, null);
        var connector = watch.Attach(transcript, findings);
        var client = SessionEvents.CompletedLeg("client");
        client.ClientCertificates.Add(SessionEvents.Certificate(name, [name]));
        transcript.Record(Direction.Proxy, EventKinds.Connect, $"client {ip}:40000 connected", new Dictionary<string, object?> { ["client"] = $"{ip}:40000" });
        transcript.Record(Direction.Client, EventKinds.Command, $"EHLO {name}", new Dictionary<string, object?> { ["verb"] = "EHLO" });
        transcript.Record(Direction.Proxy, EventKinds.TlsHandshake, "client leg: TLSv1.2", client.ToData());
        transcript.Record(Direction.Client, EventKinds.Command, "MAIL FROM:<a@varunagroup.de>", new Dictionary<string, object?> { ["verb"] = "MAIL" });
        transcript.Record(Direction.Proxy, EventKinds.Disconnect, "session ended: Quit", new Dictionary<string, object?> { ["end"] = "Quit" });
        return (connector, findings, events);
    }

    [Fact]
    public async Task SecondHostUnderTheWildcard_RaisesTheOverlapInItsSession_AndEachSessionRecordsItsConnector()
    {
        var watch = new ConnectorWatch(InboundConnector.Parse(Wildcard));

        var first = await SessionAsync(watch, "s1", "mx01.varunagroup.de", "192.0.2.11");
        var second = await SessionAsync(watch, "s2", "mx02.varunagroup.de", "192.0.2.12");
        var again = await SessionAsync(watch, "s3", "mx02.varunagroup.de", "192.0.2.12");

        Assert.DoesNotContain(first.Findings.Findings, f => f.Code == FindingCodes.ConnectorWildcardOverlap);
        var overlap = Assert.Single(second.Findings.Findings, f => f.Code == FindingCodes.ConnectorWildcardOverlap);
        Assert.Equal("s2", overlap.Session);
        Assert.Equal("inbound connector \"Inbound from varunagroup\" (OnPremises) with TlsSenderCertificateName *.varunagroup.de matches 2 sending hosts: mx01.varunagroup.de (CN=mx01.varunagroup.de, from 192.0.2.11), mx02.varunagroup.de (CN=mx02.varunagroup.de, from 192.0.2.12)", overlap.Title);
        Assert.Contains(second.Events, e => e.Kind == FindingEngine.EventKind && e.Text == overlap.Headline);

        // The same host again is no new overlap.
        Assert.DoesNotContain(again.Findings.Findings, f => f.Code == FindingCodes.ConnectorWildcardOverlap);

        Assert.Equal("inbound connector \"Inbound from varunagroup\" (OnPremises): OnPremises, certificate mx01.varunagroup.de matches TlsSenderCertificateName *.varunagroup.de", first.Connector.Describe());
        var recorded = Assert.Single(first.Events, e => e.Kind == ConnectorWatch.EventKind);
        Assert.Equal("Inbound from varunagroup", EventFields.Text(recorded.Data, "connector"));
        Assert.True(first.Events.IndexOf(recorded) > first.Events.FindIndex(e => e.Kind == EventKinds.Disconnect), "the selection is recorded once the session has ended");
    }
}
