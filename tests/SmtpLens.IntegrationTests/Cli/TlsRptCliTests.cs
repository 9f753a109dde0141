using System.Runtime.Versioning;
using System.Text.Json;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary><c>smtplens tlsrpt</c> as a user runs it, over transcripts written by the real JSON Lines writer.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class TlsRptCliTests : IDisposable
{
    private static readonly DateTimeOffset Day = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-tlsrptcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task TlsRpt_WritesTheRfcFileName_WithCounts_AndMode0600()
    {
        var transcripts = Path.Combine(_dir, "tr");
        Directory.CreateDirectory(transcripts);
        WriteSession(transcripts, "20261206T090000000Z-000001-aaaa", Day, "pass", "TLSA 3 1 1 matched");
        WriteSession(transcripts, "20261206T100000000Z-000002-bbbb", Day.AddHours(1), "fail", "no TLSA record matched the chain");
        WriteSession(transcripts, "20261205T100000000Z-000003-cccc", Day.AddDays(-1), "pass", "TLSA 3 1 1 matched");
        await File.WriteAllTextAsync(Path.Combine(transcripts, "nothing.jsonl"), "");

        var (code, stdout, stderr) = await RunInAsync(_dir, "tlsrpt", "--transcripts", transcripts, "--policy-domain", "example.test", "--sender-domain", "relay.test");

        Assert.True(code == 0, stderr);
        var file = Path.Combine(_dir, "relay.test!example.test!1796515200!1796601599.json");
        Assert.True(File.Exists(file), stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Contains("2 session(s) with verdicts for example.test, 1 successful, 1 failed; 1 session(s) of other days left out", stdout, StringComparison.Ordinal);
        Assert.Contains("tlsa-invalid: 1", stdout, StringComparison.Ordinal);

        using var report = JsonDocument.Parse(await File.ReadAllBytesAsync(file));
        var policy = Assert.Single(report.RootElement.GetProperty("policies").EnumerateArray().ToList());
        Assert.Equal("tlsa", policy.GetProperty("policy").GetProperty("policy-type").GetString());
        Assert.Equal(1, policy.GetProperty("summary").GetProperty("total-failure-session-count").GetInt32());
        Assert.Equal("postmaster@relay.test", report.RootElement.GetProperty("contact-info").GetString());
    }

    [Fact]
    public async Task TlsRpt_WithoutVerdicts_Exits1_AndUsageErrors_Exit2()
    {
        var transcripts = Path.Combine(_dir, "plain");
        Directory.CreateDirectory(transcripts);
        WriteSession(transcripts, "20261206T090000000Z-000001-aaaa", Day, verdict: null, reason: null);

        var (none, _, noneErr) = await RunInAsync(_dir, "tlsrpt", "--transcripts", transcripts, "--policy-domain", "example.test");
        var (usage, _, usageErr) = await RunInAsync(_dir, "tlsrpt", "--transcripts", transcripts);
        var (date, _, dateErr) = await RunInAsync(_dir, "tlsrpt", "--transcripts", transcripts, "--policy-domain", "example.test", "--date", "06/12/2026");

        Assert.Equal((1, 2, 2), (none, usage, date));
        Assert.Contains("carries a tls-policy verdict for example.test", noneErr, StringComparison.Ordinal);
        Assert.Contains("--policy-domain", usageErr, StringComparison.Ordinal);
        Assert.Contains("expected YYYY-MM-DD", dateErr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir, "*.json"));
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunInAsync(string workingDirectory, params string[] args)
    {
        await using var process = SmtplensProcess.Start(args, workingDirectory: workingDirectory);
        await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, process.Stdout, process.Stderr);
    }

    private static void WriteSession(string directory, string id, DateTimeOffset start, string? verdict, string? reason)
    {
        var events = new List<(Direction, string, string, IReadOnlyDictionary<string, object?>?)>
        {
            (Direction.Proxy, EventKinds.Connect, "client 192.0.2.10:50000 connected", new Dictionary<string, object?> { ["client"] = "192.0.2.10:50000" }),
            (Direction.Proxy, EventKinds.StartTls, "STARTTLS", null),
            (Direction.Proxy, EventKinds.TlsHandshake, "passthrough leg", new Dictionary<string, object?> { ["leg"] = "passthrough", ["completed"] = true }),
        };
        if (verdict is not null)
        {
            events.Add((Direction.Proxy, "tls-policy", $"dane: {verdict}", new Dictionary<string, object?> { ["policy"] = "dane", ["verdict"] = verdict, ["reason"] = reason, ["mxHost"] = "mx.example.test" }));
        }

        events.Add((Direction.Proxy, EventKinds.Summary, "summary", new Dictionary<string, object?> { ["client"] = "192.0.2.10:50000", ["upstream"] = "198.51.100.25:25" }));
        using var format = new JsonLinesTranscriptFormat(Path.Combine(directory, id + ".jsonl"), "cli-test");
        var seq = 0;
        foreach (var (direction, kind, text, data) in events)
        {
            seq++;
            format.Write(new TranscriptEvent(id, seq, start.AddMilliseconds(seq), direction, kind, text, data));
        }
    }
}
