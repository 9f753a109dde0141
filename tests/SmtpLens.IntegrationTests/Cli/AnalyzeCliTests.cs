using System.Net;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary><c>smtplens analyze</c> and <c>proxy --findings</c> as a user runs them.</summary>
public sealed class AnalyzeCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-analyze-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Analyze_Help_Describes_Files_Json_And_Exit_Codes()
    {
        var (code, stdout, _) = await SmtplensProcess.RunAsync("analyze", "--help");

        Assert.Equal(0, code);
        Assert.Contains("FILE", stdout, StringComparison.Ordinal);
        Assert.Contains("--json", stdout, StringComparison.Ordinal);
        Assert.Contains("Exit codes: 0 no finding of warning or above, 1 at least one warning or error finding, 2 usage error or unreadable file.", stdout, StringComparison.Ordinal);
        var (_, root, _) = await SmtplensProcess.RunAsync("--help");
        Assert.Contains("analyze", root, StringComparison.Ordinal);
        var (_, proxy, _) = await SmtplensProcess.RunAsync("proxy", "--help");
        Assert.Contains("--findings", proxy, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analyze_MissingOrUnreadableFile_Exits2()
    {
        var (missing, _, missingErr) = await SmtplensProcess.RunAsync("analyze", Path.Combine(_dir, "nope.jsonl"));
        var garbage = Path.Combine(_dir, "garbage.jsonl");
        await File.WriteAllTextAsync(garbage, "{\"ts\":\"2026-11-22T05:00:00.000Z\",\"session\":\"s\",\"seq\":1,\"dir\":\"S\",\"kind\":\"reply\",\"text\":\"220 x\"}\nthis is not json\n");
        var (bad, _, badErr) = await SmtplensProcess.RunAsync("analyze", garbage);

        var (none, _, noneErr) = await SmtplensProcess.RunAsync("analyze");
        Assert.Equal(2, none);
        Assert.Contains("give at least one .jsonl transcript", noneErr, StringComparison.Ordinal);
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var (emptyCode, _, emptyErr) = await SmtplensProcess.RunAsync("analyze", empty);
        Assert.Equal(2, emptyCode);
        Assert.Contains("no .jsonl transcripts in", emptyErr, StringComparison.Ordinal);
        Assert.Equal(2, missing);
        Assert.Contains("no such file or directory", missingErr, StringComparison.Ordinal);
        Assert.Equal(2, bad);
        Assert.Contains("garbage.jsonl:2", badErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analyze_SessionWithOnlyInfo_Exits0_AndPrintsTheFinding()
    {
        var jsonl = await SaveSessionAsync(new LabServerOptions());

        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("analyze", jsonl);

        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("INFO STARTTLS_NOT_OFFERED (upstream leg)", stdout, StringComparison.Ordinal);
        Assert.Contains("likely causes:", stdout, StringComparison.Ordinal);
        Assert.Contains("1 file(s), 1 session(s), 1 finding(s): 0 error, 0 warning, 1 info", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxy_FindingsFromEnvironment_AppendsJsonLines_AndTheEndLineNamesThem()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions { Banner = "****************************2*0***0****" });
        upstream.Start();
        var findings = Path.Combine(_dir, "findings.jsonl");
        await using var proxy = SmtplensProcess.Start(
            ["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port}", "--instance", "edge1"],
            new Dictionary<string, string> { ["SMTPLENS_Findings"] = findings });
        var ready = await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)");
        var port = int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        var result = await LabSmtpClient.SendAsync(new IPEndPoint(IPAddress.Loopback, port), [TestMessages.Text("x\r\n")], new LabClientOptions(), CancellationToken.None);
        Assert.True(result.Fates.Single().Delivered, result.Error);
        await proxy.WaitForLogAsync("end Quit: .*findings: warning BANNER_MASKED, info STARTTLS_NOT_OFFERED");
        await proxy.InterruptAsync();

        var lines = (await File.ReadAllLinesAsync(findings)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["BANNER_MASKED", "STARTTLS_NOT_OFFERED"], lines.Where(l => l.TryGetProperty("code", out _)).Select(l => l.GetProperty("code").GetString()));
        Assert.All(lines, l => Assert.Equal("edge1", l.GetProperty("instance").GetString()));

        // The session's policy verdicts follow as typed lines: postfix:may delivers in plaintext, encrypt would not.
        var verdicts = lines.Where(l => l.TryGetProperty("type", out var t) && t.GetString() == "tls-policy").ToDictionary(l => l.GetProperty("policy").GetString()!, l => l.GetProperty("verdict").GetString());
        Assert.Equal(("pass", "fail"), (verdicts["postfix:may"], verdicts["postfix:encrypt"]));
    }

    /// <summary>One lab session through an in-process proxy; returns a copy of its .jsonl.</summary>
    private async Task<string> SaveSessionAsync(LabServerOptions upstream)
    {
        await using var f = await RelayFixture.StartAsync(upstream);
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("x\r\n")], new LabClientOptions(), CancellationToken.None);
        Assert.True(result.Fates.Single().Delivered, result.Error);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var copy = Path.Combine(_dir, summary.SessionId + ".jsonl");
        File.Copy(Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl"), copy);
        return copy;
    }
}
