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

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
