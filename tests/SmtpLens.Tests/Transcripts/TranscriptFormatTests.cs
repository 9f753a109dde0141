using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Transcripts;

/// <summary>A whole session written through <see cref="SessionTranscript"/> into its three files.</summary>
public sealed partial class TranscriptFormatTests : IDisposable
{
    private const string SessionId = "20251117T101500000Z-000042-7f3a";
    private static readonly DateTimeOffset Start = new(2025, 11, 17, 10, 15, 0, TimeSpan.Zero);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smtplens-transcript-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void TextLog_TproxySession_NamesTheListenAddressAsTheOriginalDestination()
    {
        var path = Path.Combine(_dir.FullName, "tproxy.log");
        var info = new SessionInfo(SessionId, "edge", System.Net.IPEndPoint.Parse("192.0.2.2:35034"), System.Net.IPEndPoint.Parse("198.51.100.2:25")) { Route = "tproxy" };
        using (new TextTranscriptFormat(path, info, redacting: true))
        {
        }

        Assert.Equal("# client 192.0.2.2:35034 -> 198.51.100.2:25 (its original destination, intercepted by SmtpLens via TPROXY)", File.ReadAllLines(path)[1]);
    }

    [Fact]
    public async Task TextLog_EveryEventLine_HasTimestampAndPrefix()
    {
        await WriteSessionAsync();
        var lines = File.ReadAllLines(Path.Combine(_dir.FullName, SessionId + ".log"));

        Assert.Equal($"# SmtpLens transcript, session {SessionId}, listener smtp-in", lines[0]);
        Assert.Equal("# client 192.0.2.10:50000 -> smtplens 127.0.0.1:2525", lines[1]);
        Assert.Equal("# AUTH secrets are redacted", lines[2]);
        var body = lines.Skip(3).ToList();
        Assert.All(body, line => Assert.Matches(LogLine(), line));
        Assert.Equal("2025-11-17T10:15:00.000Z * client 192.0.2.10:50000 connected", body[0]);
        Assert.Contains("2025-11-17T10:15:01.000Z S: 220 mx.example.org ESMTP Postfix (Debian/GNU)", body);
        Assert.Contains("2025-11-17T10:15:02.000Z C: EHLO client.example.com", body);
        Assert.Contains(body, l => l.EndsWith(" * upstream capabilities: PIPELINING, SIZE, VRFY, ETRN, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING", StringComparison.Ordinal));
        // The message's header block follows its event, indented under '*'.
        Assert.Contains(body, l => l.EndsWith(" *   | Subject: quarterly numbers", StringComparison.Ordinal));
        Assert.Contains(body, l => l.EndsWith(" *   ended: Quit (QUIT answered)", StringComparison.Ordinal));
        Assert.Equal(ClientEventCount, body.Count(l => l[25..].StartsWith("C: ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task JsonLines_EveryLine_ParsesWithTheDocumentedFields()
    {
        await WriteSessionAsync();
        var lines = File.ReadAllLines(Path.Combine(_dir.FullName, SessionId + ".jsonl"));

        Assert.Equal(TotalEvents, lines.Length);
        var previous = 0L;
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var ts = DateTime.Parse(root.GetProperty("ts").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            Assert.Equal(DateTimeKind.Utc, ts.Kind);
            Assert.InRange(ts, Start.UtcDateTime, Start.UtcDateTime.AddMinutes(5));
            Assert.Equal("unit-host", root.GetProperty("instance").GetString());
            Assert.Equal(SessionId, root.GetProperty("session").GetString());
            var seq = root.GetProperty("seq").GetInt64();
            Assert.True(seq > previous, $"seq {seq} after {previous}");
            previous = seq;
            var kind = root.GetProperty("kind").GetString();
            var dir = root.GetProperty("dir").GetString();
            Assert.Equal(kind switch { "command" or "auth-response" => "C", "reply" => "S", _ => "*" }, dir);
            Assert.Equal(JsonValueKind.String, root.GetProperty("text").ValueKind);
        }

        Assert.Equal(1, JsonDocument.Parse(lines[0]).RootElement.GetProperty("seq").GetInt64());
        var message = lines.Select(l => JsonDocument.Parse(l).RootElement).Single(e => e.GetProperty("kind").GetString() == "message");
        Assert.Equal(64, message.GetProperty("data").GetProperty("sha256").GetString()!.Length);
    }

    [Fact]
    public async Task ExchangeCsv_HeaderAndRows_FollowTheProtocolLogLayout()
    {
        await WriteSessionAsync();
        var text = File.ReadAllText(Path.Combine(_dir.FullName, SessionId + ".csv"), Encoding.UTF8);
        var lines = text.Split('\n');

        Assert.Equal("#Software: SmtpLens", lines[0].TrimEnd('\r'));
        Assert.Equal("#Date: 2025-11-17T10:15:00.000Z", lines[3].TrimEnd('\r'));
        Assert.Equal("#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context", lines[4].TrimEnd('\r'));
        var rows = CsvReader.ReadRecords(string.Join('\n', lines.Skip(5)));

        Assert.Equal(TotalEvents, rows.Count);
        Assert.All(rows, r => Assert.Equal(9, r.Count));
        Assert.All(rows, r =>
        {
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", r[0]);
            Assert.Equal("smtp-in", r[1]);
            Assert.Equal(SessionId, r[2]);
            Assert.Equal("192.0.2.10:50000", r[4]);
            Assert.Equal("203.0.113.5:25", r[5]);
            Assert.Contains(r[6], new[] { "+", "-", ">", "<", "*" });
            // Protocol lines go in data, our own notes in context, never both.
            Assert.True(r[7].Length == 0 || r[8].Length == 0, string.Join(" | ", r));
        });
        Assert.Equal(Enumerable.Range(1, rows.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)), rows.Select(r => r[3]));
        Assert.Equal("+", rows[0][6]);
        Assert.Equal("client 192.0.2.10:50000 connected", rows[0][8]);
        Assert.Equal("-", rows[^2][6]);
        Assert.Equal(["<", "220 mx.example.org ESMTP Postfix (Debian/GNU)"], rows[1].Skip(6).Take(2));
        Assert.Equal([">", "EHLO client.example.com"], rows[2].Skip(6).Take(2));
        Assert.Equal(ClientEventCount, rows.Count(r => r[6] == ">"));
        Assert.Contains(rows, r => r[6] == "*" && r[8].StartsWith("upstream capabilities:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExchangeCsv_CommasAndQuotesInData_RoundTrip()
    {
        const string odd = "MAIL FROM:<\"odd,user\"@example.com> SIZE=10";
        await WriteSessionAsync(extraClientLine: odd);
        var text = File.ReadAllText(Path.Combine(_dir.FullName, SessionId + ".csv"), Encoding.UTF8);

        Assert.Contains("\"MAIL FROM:<\"\"odd,user\"\"@example.com> SIZE=10\"", text, StringComparison.Ordinal);
        var rows = CsvReader.ReadRecords(string.Join('\n', text.Split('\n').Skip(5)));
        Assert.Contains(rows, r => r[6] == ">" && r[7] == odd);
        Assert.All(rows, r => Assert.Equal(9, r.Count));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("", "")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("cr\rhere", "\"cr\rhere\"")]
    public void Quote_FollowsRfc4180(string field, string quoted)
    {
        Assert.Equal(quoted, ExchangeCsvTranscriptFormat.Quote(field));
        Assert.Equal([field], CsvReader.ReadRecords(quoted + "\n").Single());
    }

    [Fact]
    public void CsvReader_RejectsStrayQuotes()
    {
        Assert.Throws<FormatException>(() => CsvReader.ReadRecords("a\"b,c\n"));
        Assert.Throws<FormatException>(() => CsvReader.ReadRecords("\"a\"b,c\n"));
        Assert.Throws<FormatException>(() => CsvReader.ReadRecords("\"open,c\n"));
    }

    [Fact]
    public async Task SessionTranscript_WithCapture_WritesTheUnstuffedMessage()
    {
        var info = new SessionInfo(SessionId, "smtp-in", null, null);
        var options = new TranscriptOptions { Directory = _dir.FullName, CaptureMessages = true, Instance = "unit-host" };
        await using (var transcript = new SessionTranscript(info, options, new FakeTimeProvider(Start)))
        {
            var dialogue = new SmtpDialogue(transcript, new DialogueOptions { OpenCapture = transcript.OpenMessageCapture });
            Feed(dialogue, DialogueScript.Load("postfix-esmtp"), null);
        }

        var eml = File.ReadAllBytes(Path.Combine(_dir.FullName, SessionId + "-1.eml"));
        Assert.StartsWith("From: Alice <alice@example.com>\r\n", Encoding.ASCII.GetString(eml), StringComparison.Ordinal);
        Assert.EndsWith("\r\n.this line keeps one leading dot in the mailbox\r\n.\r\nAlice\r\n", Encoding.ASCII.GetString(eml), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionTranscript_WithoutDirectory_WritesNothingButStillNumbersEvents()
    {
        var seen = new List<TranscriptEvent>();
        var info = new SessionInfo(SessionId, "smtp-in", null, null);
        await using var transcript = new SessionTranscript(info, new TranscriptOptions { Directory = null }, new FakeTimeProvider(Start));
        transcript.EventRecorded += seen.Add;

        transcript.Record(Direction.Proxy, EventKinds.Connect, "one");
        transcript.Record(Direction.Client, EventKinds.Command, "two");

        Assert.Equal([1L, 2L], seen.Select(e => e.Seq));
        Assert.Equal([Start, Start], seen.Select(e => e.Timestamp));
        Assert.Null(transcript.OpenMessageCapture(1));
        Assert.Empty(_dir.EnumerateFiles());
    }

    [Fact]
    public async Task SessionTranscript_AfterDispose_IgnoresEvents()
    {
        var seen = new List<TranscriptEvent>();
        var info = new SessionInfo(SessionId, "smtp-in", null, null);
        var transcript = new SessionTranscript(info, new TranscriptOptions { Directory = _dir.FullName, Instance = "x" }, new FakeTimeProvider(Start));
        transcript.EventRecorded += seen.Add;
        await transcript.DisposeAsync();

        transcript.Record(Direction.Proxy, EventKinds.Error, "late");
        await transcript.DisposeAsync();

        Assert.Empty(seen);
        Assert.Empty(File.ReadAllLines(Path.Combine(_dir.FullName, SessionId + ".jsonl")));
    }

    [Fact]
    public async Task SessionTranscript_DirectoryCannotBeCreated_ReportsOnceAndKeepsRecording()
    {
        // A regular file where the directory should be: mkdir fails for root too.
        var blocker = Path.Combine(_dir.FullName, "not-a-directory");
        File.WriteAllText(blocker, "x");
        var failures = new List<Exception>();
        var seen = new List<TranscriptEvent>();
        var info = new SessionInfo(SessionId, "smtp-in", null, null);
        var transcript = new SessionTranscript(info, new TranscriptOptions { Directory = Path.Combine(blocker, "transcripts") }, new FakeTimeProvider(Start), e =>
        {
            lock (failures)
            {
                failures.Add(e);
            }
        });
        transcript.EventRecorded += seen.Add;

        transcript.Record(Direction.Proxy, EventKinds.Connect, "one");
        transcript.Record(Direction.Client, EventKinds.Command, "two");
        await transcript.DisposeAsync();

        Assert.Equal([1L, 2L], seen.Select(e => e.Seq));
        Assert.IsAssignableFrom<IOException>(Assert.Single(failures));
        Assert.Equal([blocker], _dir.EnumerateFileSystemInfos().Select(f => f.FullName));
    }

    private int TotalEvents { get; set; }

    private int ClientEventCount { get; set; }

    /// <summary>Runs the recorded Postfix dialogue through a real <see cref="SessionTranscript"/>, one clock second per turn.</summary>
    private async Task WriteSessionAsync(string? extraClientLine = null)
    {
        var info = new SessionInfo(SessionId, "smtp-in", IPEndPoint.Parse("192.0.2.10:50000"), IPEndPoint.Parse("127.0.0.1:2525"))
        {
            UpstreamEndPoint = IPEndPoint.Parse("203.0.113.5:25"),
        };
        var clock = new FakeTimeProvider(Start);
        var events = new List<TranscriptEvent>();
        await using (var transcript = new SessionTranscript(info, new TranscriptOptions { Directory = _dir.FullName, Instance = "unit-host" }, clock))
        {
            transcript.EventRecorded += events.Add;
            transcript.Record(Direction.Proxy, EventKinds.Connect, "client 192.0.2.10:50000 connected");
            var script = DialogueScript.Load("postfix-esmtp");
            if (extraClientLine is not null)
            {
                script = DialogueScript.Parse("with-extra", $"S: 220 mx.example.org ESMTP Postfix (Debian/GNU)\nC: EHLO client.example.com\nS: 250 mx.example.org\nC: {extraClientLine}\nS: 250 2.1.0 Ok");
            }

            var dialogue = new SmtpDialogue(transcript, new DialogueOptions());
            Feed(dialogue, script, clock);
            transcript.Record(Direction.Proxy, EventKinds.Disconnect, "session ended: Quit (QUIT answered)");
            transcript.Record(Direction.Proxy, EventKinds.Summary, "summary", new Dictionary<string, object?> { ["lines"] = new List<string> { "banner: 220 mx.example.org", "ended: Quit (QUIT answered)" } });
        }

        TotalEvents = events.Count;
        ClientEventCount = events.Count(e => e.Direction == Direction.Client);
    }

    private static void Feed(SmtpDialogue dialogue, DialogueScript script, FakeTimeProvider? clock) =>
        DialogueReplayer.Feed(dialogue, script, beforeTurn: () => clock?.Advance(TimeSpan.FromSeconds(1)));

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (C:|S:|\*) ")]
    private static partial Regex LogLine();
}
