using SmtpLens.Report;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Report;

/// <summary><c>proxy --report</c> under load: sessions ending in a burst cost one rewrite per interval, not one each,
/// and the sessions that ended after the last rewrite are written at shutdown.</summary>
public sealed class LiveReportTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-live-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Refresh_SessionsEndingWithinTheInterval_CoalescedIntoOneRewrite_AndTheRestWrittenAtShutdown()
    {
        var time = new FakeTimeProvider(Start);
        var transcripts = Path.Combine(_dir, "t");
        Directory.CreateDirectory(transcripts);
        var html = Path.Combine(_dir, "report.html");
        var live = new LiveReport(transcripts, html, time, TimeSpan.FromSeconds(1), rewriteEvery: TimeSpan.FromSeconds(10));
        Assert.True(live.Refresh(force: true));
        Assert.Equal(1, live.Writes);

        // A burst: three sessions end over three seconds; each look finds one, none rewrites the file.
        for (var i = 1; i <= 3; i++)
        {
            EndedSession(transcripts, i);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.False(live.Refresh(force: false));
        }

        Assert.Equal(1, live.Writes);
        Assert.DoesNotContain(SessionId(1), await File.ReadAllTextAsync(html), StringComparison.Ordinal);

        // Ten seconds after the last write: one rewrite with all three.
        time.Advance(TimeSpan.FromSeconds(7));
        Assert.True(live.Refresh(force: false));
        Assert.Equal(2, live.Writes);
        var text = await File.ReadAllTextAsync(html);
        Assert.All(new[] { 1, 2, 3 }, i => Assert.Contains(SessionId(i), text, StringComparison.Ordinal));

        // Nothing new: no rewrite however long it has been.
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(live.Refresh(force: false));

        // A session ends just before shutdown: the final write has it.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(live.Refresh(force: false));
        EndedSession(transcripts, 4);
        live.Refresh(force: false);
        await live.DisposeAsync();
        Assert.Contains(SessionId(4), await File.ReadAllTextAsync(html), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    private static string SessionId(int n) => $"20261207T080000000Z-{n:000000}-abcd";

    /// <summary>A finished session's .jsonl: its last event is the summary.</summary>
    private static void EndedSession(string directory, int n)
    {
        var id = SessionId(n);
        using var jsonl = new JsonLinesTranscriptFormat(Path.Combine(directory, id + ".jsonl"), "lens");
        var at = Start.AddSeconds(n);
        jsonl.Write(new TranscriptEvent(id, 1, at, Direction.Proxy, EventKinds.Connect, "client 127.0.0.1:40000 connected", new Dictionary<string, object?> { ["client"] = "127.0.0.1:40000" }));
        jsonl.Write(new TranscriptEvent(id, 2, at, Direction.Server, EventKinds.Reply, "220 mx ESMTP", new Dictionary<string, object?> { ["code"] = 220L, ["last"] = true }));
        jsonl.Write(new TranscriptEvent(id, 3, at, Direction.Client, EventKinds.Command, "QUIT", new Dictionary<string, object?> { ["verb"] = "QUIT" }));
        jsonl.Write(new TranscriptEvent(id, 4, at, Direction.Proxy, EventKinds.Disconnect, "session ended: Quit", new Dictionary<string, object?> { ["end"] = "Quit" }));
        jsonl.Write(new TranscriptEvent(id, 5, at, Direction.Proxy, EventKinds.Summary, "summary", new Dictionary<string, object?> { ["end"] = "Quit" }));
        jsonl.Flush();
    }
}
