using System.Text;
using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.Net;
using SmtpLens.Probe;
using SmtpLens.Probe.Diff;
using SmtpLens.Protocol;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Probe;

/// <summary>The probe's human report and JSON, from a session filled in as the probe fills it.</summary>
public sealed class ProbeReportTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "smtplens-probe-report-" + Guid.NewGuid().ToString("N")[..8]);

    public ProbeReportTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Text_Report_Reads_In_Dialogue_Order_With_Findings_And_Offers()
    {
        var text = new StringBuilder();
        ProbeTextReport.WriteHost(text, Host());
        var lines = text.ToString().Split('\n');

        Assert.Equal("probe 192.0.2.25:25 (MX mx.example.test)", lines[0]);
        string[] order = ["  connected", "  banner", "  EHLO  ", "  STARTTLS", "  TLS  ", "  certificate", "  trust", "  name", "  EHLO in TLS", "  after TLS", "  QUIT", "findings ("];
        var positions = order.Select(o => Array.FindIndex(lines, l => l.StartsWith(o, StringComparison.Ordinal))).ToList();
        Assert.DoesNotContain(-1, positions);
        Assert.Equal(positions.Order(), positions);
        Assert.Contains("  TLS          TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, EMS yes, 12 ms", lines);
        Assert.Contains("  trust        chain NOT trusted: PartialChain: unable to get local issuer certificate", lines);
        Assert.Contains("  name         mx.example.test matches the certificate", lines);
        Assert.Contains("  after TLS    - XXXXXXXX  (a masked keyword: its original is probably among the +)", lines);
        Assert.Contains("               - STARTTLS  (expected: not offered again inside TLS)", lines);
        Assert.Contains("               + CHUNKING  (hidden from plaintext: a middlebox filtering ESMTP?)", lines);
        Assert.Contains(lines, l => l.StartsWith("  WARNING  EHLO_KEYWORD_ONLY_IN_TLS: CHUNKING (masked as XXXXXXXX there)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  tls1.0 ", StringComparison.Ordinal) && l.EndsWith("refused: the server sent a fatal protocol_version alert", StringComparison.Ordinal));
    }

    [Fact]
    public void Json_Report_Has_The_Parsed_Dialogue_Findings_Events_And_Exit_Code_And_Diff_Reads_It()
    {
        var path = Path.Combine(_directory, "probe.json");
        using (var file = File.Create(path))
        using (var writer = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
        {
            ProbeJsonReport.Write(writer, null, [Host()], "test-instance");
        }

        using (var doc = JsonDocument.Parse(File.ReadAllText(path)))
        {
            var root = doc.RootElement;
            Assert.Equal(1, root.GetProperty("exitCode").GetInt32());
            var host = root.GetProperty("hosts")[0];
            Assert.Equal("192.0.2.25:25", host.GetProperty("target").GetString());
            Assert.Equal("220 mx.example.test ESMTP", host.GetProperty("banner")[0].GetString());
            Assert.Contains(host.GetProperty("ehlo").GetProperty("keywords").EnumerateArray(), k => k.GetProperty("keyword").GetString() == "STARTTLS");
            Assert.Equal("TLSv1.2", host.GetProperty("tls").GetProperty("version").GetString());
            Assert.Equal("CHUNKING", host.GetProperty("keywordChanges").GetProperty("hiddenFromPlaintext")[0].GetProperty("keyword").GetString());
            Assert.Contains(host.GetProperty("findings").EnumerateArray(), f => f.GetProperty("code").GetString() == FindingCodes.EhloKeywordOnlyInTls);
            Assert.Equal("refused", host.GetProperty("offers")[0].GetProperty("outcome").GetString());
            Assert.Equal("test-instance", host.GetProperty("events")[0].GetProperty("instance").GetString());
            Assert.Equal(2, root.GetProperty("findingCounts").GetProperty("warning").GetInt32());
        }

        var snapshot = DiffInput.Load(path);
        Assert.Equal("probe.json (192.0.2.25:25)", snapshot.Label);
        Assert.Equal("XXXXXXXX", snapshot.Keywords.Single(k => k.Keyword.StartsWith('X')).Keyword);
        Assert.Contains(snapshot.KeywordsInTls, k => k.Keyword == "CHUNKING");
        Assert.Equal("TLSv1.2", snapshot.Tls!["version"]);
    }

    [Fact]
    public async Task Diff_Reads_A_Jsonl_Transcript_Written_By_SessionTranscript()
    {
        var info = new SessionInfo("20261122T060000000Z-000009-beef", "listener1", null, null);
        await using (var transcript = new SessionTranscript(info, new TranscriptOptions { Directory = _directory }, TimeProvider.System))
        {
            var events = new ProbeEvents(info.SessionId).Server("220 mx.example.test ESMTP").Ehlo("mx.example.test", "PIPELINING", "STARTTLS").Disconnect();
            foreach (var e in events.Events)
            {
                transcript.Record(e.Direction, e.Kind, e.Text, e.Data);
            }
        }

        var snapshot = DiffInput.Load(Path.Combine(_directory, info.SessionId + ".jsonl"));
        Assert.Equal(info.SessionId, snapshot.Session);
        Assert.Equal(["PIPELINING", "STARTTLS"], snapshot.Keywords.Select(k => k.Keyword));
        Assert.Equal("220 mx.example.test ESMTP", ProbeDiff.BannerText(snapshot));
    }

    [Fact]
    public void DiffInput_Refuses_Other_Files_With_One_Clear_Message()
    {
        var path = Path.Combine(_directory, "other.json");
        File.WriteAllText(path, "{\"hello\": 1}");
        Assert.Contains("neither 'smtplens probe --json' output nor a .jsonl transcript", Assert.Throws<InvalidDataException>(() => DiffInput.Load(path)).Message, StringComparison.Ordinal);
        File.WriteAllText(path, "not json at all");
        Assert.Contains("not JSON", Assert.Throws<InvalidDataException>(() => DiffInput.Load(path)).Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => DiffInput.Load(Path.Combine(_directory, "missing.json")));
    }

    [Fact]
    public void Exit_Code_Is_2_On_A_Connection_Error_Else_1_For_Warnings_Else_0()
    {
        var clean = new HostProbe(new HostPort("a", 25), null, new ProbeSession("s1", new HostPort("a", 25), null), []);
        Assert.Equal(0, ProbeOutcome.ExitCode([clean]));
        Assert.Equal(1, ProbeOutcome.ExitCode([clean, Host()]));
        var failed = new ProbeSession("s2", new HostPort("b", 25), null) { Error = "cannot connect: ConnectionRefused" };
        Assert.Equal(2, ProbeOutcome.ExitCode([Host(), new HostProbe(new HostPort("b", 25), null, failed, [])]));
        Assert.Equal("2 warnings", ProbeOutcome.Tally(Host().Main.Findings));
        Assert.Equal("no findings", ProbeOutcome.Tally([]));
    }

    /// <summary>An MX whose plaintext EHLO hides CHUNKING behind XXXXXXXX, with one refused TLS 1.0 offer.</summary>
    private static HostProbe Host()
    {
        var target = new HostPort("192.0.2.25", 25);
        var certificate = ProbeEvents.Certificate("mx.example.test", "mx.example.test");
        var events = new ProbeEvents()
            .Server("220 mx.example.test ESMTP")
            .Ehlo("mx.example.test", "PIPELINING", "XXXXXXXX", "STARTTLS")
            .Client("STARTTLS").Server("220 2.0.0 Ready to start TLS")
            .Tls(certificate)
            .Ehlo("mx.example.test", "PIPELINING", "CHUNKING")
            .Client("QUIT").Server("221 2.0.0 Bye").Disconnect();
        var leg = new TlsLegRecord("upstream", "client")
        {
            Completed = true,
            Version = 0x0303,
            CipherSuite = 0xC030,
            ExtendedMasterSecret = true,
            Duration = TimeSpan.FromMilliseconds(12),
            ChainTrusted = false,
            ChainStatus = "PartialChain: unable to get local issuer certificate",
            NameChecked = "mx.example.test",
            NameMatches = true,
        };
        leg.ServerCertificates.Add(certificate);
        var main = new ProbeSession("20261122T060000000Z-000001-test", target, null)
        {
            RemoteEndPoint = "192.0.2.25:25",
            LocalEndPoint = "192.0.2.1:40000",
            Banner = Reply("220 mx.example.test ESMTP"),
            HelloReply = Reply("250-mx.example.test", "250-PIPELINING", "250-XXXXXXXX", "250 STARTTLS"),
            StartTlsAttempted = true,
            StartTlsReply = Reply("220 2.0.0 Ready to start TLS"),
            Tls = leg,
            HelloReplyInTls = Reply("250-mx.example.test", "250-PIPELINING", "250 CHUNKING"),
            QuitReply = Reply("221 2.0.0 Bye"),
        };
        main.EhloBeforeTls = EhloReply.From(main.HelloReply);
        main.EhloInTls = EhloReply.From(main.HelloReplyInTls);
        main.Events.AddRange(events.Events);
        main.Findings = FindingEngine.Analyze(events.Events);

        var refused = new TlsLegRecord("upstream", "client") { Failure = "the server sent a fatal protocol_version alert" };
        var offer = new ProbeSession("20261122T060000000Z-000002-test", target, new TlsOffer("tls1.0", TlsPolicy.Legacy)) { StartTlsAttempted = true, StartTlsReply = Reply("220 go"), Tls = refused };
        return new HostProbe(target, "mx.example.test", main, [offer]);
    }

    private static SmtpReply Reply(params string[] raw) =>
        new([.. raw.Select(r => ReplyLine.TryParse(Encoding.ASCII.GetBytes(r), out var l) ? l : throw new FormatException(r))], raw);
}
