using System.Runtime.Versioning;
using System.Text.Json;
using SmtpLens.IO;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Transcripts;

/// <summary>The transcript queue is bounded without dropping events or blocking the recording thread.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class TranscriptBackPressureTests : IDisposable
{
    private const string SessionId = "20261207T040000000Z-000001-bp01";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smtplens-backpressure-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task FullQueue_HoldsEventsInOrder_WakesTheWriter_AndTheDrainPointCompletes()
    {
        // An hour between flushes: only a full queue (or closing) can wake the writer early.
        var options = new TranscriptOptions { Directory = _dir.FullName, Instance = "unit", QueueCapacity = 8, FlushInterval = TimeSpan.FromHours(1) };
        var info = new SessionInfo(SessionId, "bp", null, null);
        var transcript = new SessionTranscript(info, options, new FakeTimeProvider());
        await using (transcript)
        {
            transcript.Record(Direction.Proxy, EventKinds.Connect, "first");
            await WaitForLinesAsync(1);

            // The writer now pauses for its flush interval; 500 synchronous events overrun its queue of 8.
            for (var i = 0; i < 500; i++)
            {
                transcript.Record(Direction.Client, EventKinds.Command, $"NOOP {i}");
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await transcript.WaitForWriterAsync(timeout.Token);
            Assert.Equal(0, transcript.Overflowing);
        }

        var seqs = (await File.ReadAllLinesAsync(JsonlPath)).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, 501).Select(i => (long)i), seqs);
    }

    [Fact]
    public async Task DisposeAsync_WithEventsStillHeldBack_WritesThemAll()
    {
        var options = new TranscriptOptions { Directory = _dir.FullName, Instance = "unit", QueueCapacity = 2, FlushInterval = TimeSpan.FromHours(1) };
        var transcript = new SessionTranscript(new SessionInfo(SessionId, "bp", null, null), options, new FakeTimeProvider());
        for (var i = 0; i < 300; i++)
        {
            transcript.Record(Direction.Server, EventKinds.Reply, $"250 ok {i}");
        }

        transcript.Record(Direction.Proxy, EventKinds.Summary, "summary");
        await transcript.DisposeAsync();

        var lines = await File.ReadAllLinesAsync(JsonlPath);
        Assert.Equal(301, lines.Length);
        Assert.Equal("summary", JsonDocument.Parse(lines[^1]).RootElement.GetProperty("kind").GetString());
        Assert.Contains(" * summary", (await File.ReadAllLinesAsync(Path.Combine(_dir.FullName, SessionId + ".log")))[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task TranscriptAndCaptureFiles_AreOwnerOnly_AndTheDirectorySmtpLensMakesIs0700()
    {
        var dir = Path.Combine(_dir.FullName, "made-by-smtplens");
        var options = new TranscriptOptions { Directory = dir, Instance = "unit", CaptureMessages = true };
        await using (var transcript = new SessionTranscript(new SessionInfo(SessionId, "modes", null, null), options, new FakeTimeProvider()))
        {
            transcript.Record(Direction.Proxy, EventKinds.Connect, "one");
            await using var capture = transcript.OpenMessageCapture(1);
            Assert.NotNull(capture);
        }

        Assert.Equal(4, Directory.GetFiles(dir).Length);
        Assert.All(Directory.GetFiles(dir), f => Assert.Equal(PrivateFiles.OwnerOnly, File.GetUnixFileMode(f)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
    }

    [Theory]
    [InlineData("0600", "600", "700")]
    [InlineData("640", "640", "750")]
    [InlineData("0644", "644", "755")]
    public void ParseMode_AcceptsOctalReadWriteModes_AndDirectoriesGetSearchWhereReadIsGranted(string text, string file, string directory)
    {
        var mode = PrivateFiles.ParseMode(text);
        Assert.Equal(file, Convert.ToString((int)mode, 8));
        Assert.Equal(directory, Convert.ToString((int)PrivateFiles.DirectoryMode(mode), 8));
    }

    [Theory]
    [InlineData("0400")]
    [InlineData("0700")]
    [InlineData("0666x")]
    [InlineData("")]
    [InlineData("1600")]
    public void ParseMode_RejectsModesThatLockOutTheOwnerOrGrantExecute(string text) =>
        Assert.Throws<FormatException>(() => PrivateFiles.ParseMode(text));

    private string JsonlPath => Path.Combine(_dir.FullName, SessionId + ".jsonl");

    private async Task WaitForLinesAsync(int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(JsonlPath) && (await File.ReadAllLinesAsync(JsonlPath)).Length >= count)
            {
                return;
            }

            await Task.Delay(10);
        }

        Assert.Fail($"the writer never flushed {count} line(s)");
    }
}
