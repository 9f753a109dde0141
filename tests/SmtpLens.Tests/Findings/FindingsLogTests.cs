using System.Runtime.Versioning;
using System.Text.Json;
using SmtpLens.Findings;

namespace SmtpLens.Tests.Findings;

[UnsupportedOSPlatform("windows")]
public sealed class FindingsLogTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smtplens-findingslog-" + Guid.NewGuid().ToString("N")[..12]);

    [Fact]
    public async Task ConcurrentWriters_EveryFindingIsOneWholeLine_AndClosingDrainsTheQueue()
    {
        var path = Path.Combine(_dir, "findings.jsonl");
        var log = new FindingsLog(path, "edge1");
        const int Writers = 8, PerWriter = 250;
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                log.Write(new Finding("TEST_CODE", FindingSeverity.Warning, FindingLeg.Upstream, $"writer {w} finding {i}", []) { Session = $"s{w}" });
            }
        })));

        await log.DisposeAsync();
        log.Write(new Finding("AFTER_CLOSE", FindingSeverity.Info, FindingLeg.Client, "late", []));

        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(Writers * PerWriter, lines.Length);
        var titles = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("title").GetString()).ToHashSet();
        Assert.Equal(Writers * PerWriter, titles.Count);
        Assert.Contains("writer 7 finding 249", titles);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task OneWritersFindings_KeepTheirOrder()
    {
        var path = Path.Combine(_dir, "ordered.jsonl");
        await using (var log = new FindingsLog(path, "edge1"))
        {
            for (var i = 0; i < 500; i++)
            {
                log.Write(new Finding("TEST_CODE", FindingSeverity.Info, FindingLeg.Client, $"n{i}", []));
            }
        }

        var titles = (await File.ReadAllLinesAsync(path)).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("title").GetString()).ToList();
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"n{i}"), titles);
    }

    [Fact]
    public async Task PolicyVerdicts_AreTypedLines_AndFindingLinesStayAsTheyWere()
    {
        var path = Path.Combine(_dir, "mixed.jsonl");
        var finding = new Finding("TEST_CODE", FindingSeverity.Error, FindingLeg.Upstream, "a finding", []) { Session = "s1" };
        var verdict = new SmtpLens.Policy.PolicyVerdict("postfix:verify", SmtpLens.Policy.Verdict.Fail, "Server certificate not verified (certificate has expired)", new Dictionary<string, object?> { ["mxHost"] = "mx.example.test", ["certificateNames"] = new List<string> { "mx.example.test" } }) { Sender = true };
        await using (var log = new FindingsLog(path, "edge1"))
        {
            log.Write(finding);
            log.Write(verdict.ToLogRecord("s1", new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.Zero)));
        }

        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(2, lines.Length);
        Assert.Equal(FindingJson.ToLine(finding, "edge1"), lines[0]);
        using var doc = JsonDocument.Parse(lines[1]);
        var line = doc.RootElement;
        Assert.Equal(
            ["ts", "instance", "session", "type", "policy", "verdict", "reason", "sender", "facts"],
            line.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("2026-12-07T10:00:00", "edge1", "s1", "tls-policy"), (line.GetProperty("ts").GetString()![..19], line.GetProperty("instance").GetString(), line.GetProperty("session").GetString(), line.GetProperty("type").GetString()));
        Assert.Equal(("postfix:verify", "fail", "Server certificate not verified (certificate has expired)", true), (line.GetProperty("policy").GetString(), line.GetProperty("verdict").GetString(), line.GetProperty("reason").GetString(), line.GetProperty("sender").GetBoolean()));
        Assert.Equal("mx.example.test", line.GetProperty("facts").GetProperty("certificateNames")[0].GetString());
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
