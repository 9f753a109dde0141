using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary><c>smtplens report</c> and <c>proxy --report</c> as a user runs them.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class ReportCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-reportcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Report_Help_HasAnExample_AndProxyOffersReport()
    {
        var (code, stdout, _) = await SmtplensProcess.RunAsync("report", "--help");

        Assert.Equal(0, code);
        Assert.Contains("Example:\n  smtplens report /var/log/smtplens-a /var/log/smtplens-b -o incident.html\n", stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("--output", stdout, StringComparison.Ordinal);
        Assert.Contains("report", (await SmtplensProcess.RunAsync("--help")).Stdout, StringComparison.Ordinal);
        Assert.Contains("--report", (await SmtplensProcess.RunAsync("proxy", "--help")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Report_UsageErrors_Exit2()
    {
        var (none, _, noneErr) = await SmtplensProcess.RunAsync("report");
        var (missing, _, missingErr) = await SmtplensProcess.RunAsync("report", Path.Combine(_dir, "nope"));
        var (empty, _, emptyErr) = await SmtplensProcess.RunAsync("report", _dir);
        var (proxy, _, proxyErr) = await SmtplensProcess.RunAsync("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--report", Path.Combine(_dir, "r.html"));

        Assert.Equal((2, 2, 2, 2), (none, missing, empty, proxy));
        Assert.Contains("give at least one transcripts folder", noneErr, StringComparison.Ordinal);
        Assert.Contains("no such file or directory", missingErr, StringComparison.Ordinal);
        Assert.Contains("no .jsonl transcripts", emptyErr, StringComparison.Ordinal);
        Assert.Contains("--report needs --transcripts", proxyErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Report_TwoFolders_MergeIntoOnePage()
    {
        var ids = new List<string>();
        var folders = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            await using var f = await RelayFixture.StartAsync();
            var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text($"folder {i}\r\n")], new LabClientOptions(), CancellationToken.None);
            Assert.True(result.Fates.Single().Delivered, result.Error);
            var id = (await f.WaitForSessionsAsync(1)).Single().SessionId;
            ids.Add(id);
            var jsonl = Path.Combine(f.TranscriptDirectory, id + ".jsonl");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!(File.Exists(jsonl) && (await File.ReadAllTextAsync(jsonl)).Contains("\"kind\":\"summary\"", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            var copy = Path.Combine(_dir, "lens" + i);
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.GetFiles(f.TranscriptDirectory, "*.jsonl"))
            {
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            }

            folders.Add(copy);
        }

        var html = Path.Combine(_dir, "out", "incident.html");
        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("report", folders[0], folders[1], "-o", html);

        Assert.True(code == 0, stderr);
        Assert.Contains("2 session(s) from 2 folder(s)", stdout, StringComparison.Ordinal);
        Assert.Contains("delivered: 2", stdout, StringComparison.Ordinal);
        var text = await File.ReadAllTextAsync(html);
        Assert.All(ids, id => Assert.Contains(id, text, StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(html));
    }

    [Fact]
    public async Task Proxy_Report_WrittenAtStart_AndRewrittenWhenASessionEnds()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions { MailDirectory = Path.Combine(_dir, "mail") });
        upstream.Start();
        var html = Path.Combine(_dir, "live.html");
        await using var proxy = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port}", "--instance", "edge1", "--transcripts", Path.Combine(_dir, "t"), "--report", html]);
        var ready = await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)");
        var port = int.Parse(ready.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(File.Exists(html), "written at start, before any session");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(html));
        Assert.DoesNotContain("edge1", await File.ReadAllTextAsync(html), StringComparison.Ordinal);

        var result = await LabSmtpClient.SendAsync(new IPEndPoint(IPAddress.Loopback, port), [TestMessages.Text("live\r\n")], new LabClientOptions(), CancellationToken.None);
        Assert.True(result.Fates.Single().Delivered, result.Error);
        var stored = Directory.GetFiles(Path.Combine(_dir, "mail"), "*.eml");
        Assert.NotEmpty(stored);
        Assert.All(stored, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(await File.ReadAllTextAsync(html)).Contains("\"inst\":\"edge1\"", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Contains("\"inst\":\"edge1\"", await File.ReadAllTextAsync(html), StringComparison.Ordinal);
        await proxy.InterruptAsync();
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }
}
