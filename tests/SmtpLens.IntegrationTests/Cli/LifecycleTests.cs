using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Text.Json;
using SmtpLens.IntegrationTests.Probe;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary>How the real <c>smtplens proxy</c> process ends sessions: many at once, and on SIGTERM/SIGINT.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class LifecycleTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smtplens-life-");

    [Fact]
    public async Task Burst_Of_500_Closes_Does_Not_Delay_The_Next_Banner()
    {
        // Before transcripts completed asynchronously, each ending session blocked a pool thread on its
        // transcript writer: a new client waited 20-70 s for its banner after 500 closes.
        const int Burst = 500;
        var bound = TimeSpan.FromSeconds(10);
        await using var upstream = ScriptedSmtpServer.Start(async c =>
        {
            await c.SendAsync("220 burst.test ESMTP");
            await c.AnswerRestAsync();
        });
        var transcripts = Path.Combine(_dir.FullName, "transcripts");
        await using var proxy = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.Port}", "--transcripts", transcripts]);
        var port = await ListenPortAsync(proxy);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);

        var clients = new List<RawSmtpClient>();
        try
        {
            for (var i = 0; i < Burst; i += 50)
            {
                var batch = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => RawSmtpClient.ConnectAsync(endPoint)));
                clients.AddRange(batch);
                var greeted = await Task.WhenAll(batch.Select(c => c.ReadUntilAsync("220 burst.test", TimeSpan.FromSeconds(60))));
                Assert.All(greeted, Assert.True);
            }
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Close();
            }
        }

        var clock = Stopwatch.StartNew();
        await using var next = await RawSmtpClient.ConnectAsync(endPoint);
        var banner = await next.ReadUntilAsync("220 burst.test", TimeSpan.FromSeconds(150));
        var latency = clock.Elapsed;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"banner latency after {Burst} simultaneous closes: {latency.TotalSeconds:0.000} s (bound {bound.TotalSeconds:0} s)"));
        output.WriteLine($"proxy threads after the burst: {ProcessThreads(proxy.Id)}");
        Assert.True(banner, "no banner at all");
        Assert.True(latency < bound, string.Create(CultureInfo.InvariantCulture, $"banner took {latency.TotalSeconds:0.0} s after {Burst} closes"));

        // Every ended session's transcript is complete, summary included.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (Directory.GetFiles(transcripts, "*.log").Count(f => File.ReadAllText(f).Contains("* summary", StringComparison.Ordinal)) < Burst && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.True(Directory.GetFiles(transcripts, "*.log").Count(f => File.ReadAllText(f).Contains("* summary", StringComparison.Ordinal)) >= Burst);
    }

    [Fact]
    public async Task Sigterm_Drains_Finishing_Sessions_Ends_The_Rest_And_Flushes_Every_File()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions { Banner = CiscoMaskedBanner });
        upstream.Start();
        var transcripts = Path.Combine(_dir.FullName, "new", "transcripts");
        var findings = Path.Combine(_dir.FullName, "findings", "findings.jsonl");
        await using var proxy = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port}", "--transcripts", transcripts, "--findings", findings, "--capture-messages", "--shutdown-grace", "20"]);
        var endPoint = new IPEndPoint(IPAddress.Loopback, await ListenPortAsync(proxy));

        // One session mid-message (it will finish within the grace period), one idle after MAIL (it will not).
        await using var finishing = await RawSmtpClient.ConnectAsync(endPoint);
        await StepAsync(finishing, null, "220 ");
        await StepAsync(finishing, "EHLO drain.test\r\n", "250 ");
        await StepAsync(finishing, "MAIL FROM:<a@drain.test>\r\n", "250 ");
        await StepAsync(finishing, "RCPT TO:<b@drain.test>\r\n", "250 ");
        await StepAsync(finishing, "DATA\r\n", "354 ");
        await finishing.SendAsync("Subject: drained\r\n\r\nfirst half\r\n");
        await using var lingering = await RawSmtpClient.ConnectAsync(endPoint);
        await StepAsync(lingering, null, "220 ");
        await StepAsync(lingering, "EHLO linger.test\r\n", "250 ");
        await StepAsync(lingering, "MAIL FROM:<c@drain.test>\r\n", "250 ");

        await proxy.SignalAsync("TERM");
        await proxy.WaitForLogAsync(@"stopping: no longer accepting; waiting up to 20 s for 2 open session\(s\)");
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => RawSmtpClient.ConnectAsync(endPoint));

        await finishing.SendAsync("second half\r\n.\r\n");
        Assert.True(await finishing.ReadUntilAsync("250 2.0.0", TimeSpan.FromSeconds(15)), finishing.ReceivedText);
        await StepAsync(finishing, "QUIT\r\n", "221 ");
        var delivered = Assert.Single(await upstream.WaitForMessagesAsync(1, TimeSpan.FromSeconds(15)));
        Assert.False(proxy.HasExited, "the proxy must wait for the lingering session until the grace period ends");

        await proxy.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, proxy.ExitCode);
        Assert.True(await lingering.ReadToEndAsync(TimeSpan.FromSeconds(5)), "the lingering client is disconnected");
        Assert.Contains("ended 1 session(s) still open when the drain ended", proxy.Stderr, StringComparison.Ordinal);

        var sessions = Sessions(transcripts);
        Assert.Equal(2, sessions.Count);
        var done = Assert.Single(sessions, s => s.End == "Quit");
        var cut = Assert.Single(sessions, s => s.End == "Shutdown");
        Assert.Contains(done.Events, e => e.Kind == "transaction" && e.Text.Contains("250 2.0.0", StringComparison.Ordinal));
        var limit = Assert.Single(cut.Events, e => e.Kind == "limit");
        Assert.Equal("Shutdown", limit.Data.GetProperty("limit").GetString());
        Assert.Contains("shut down", limit.Text, StringComparison.Ordinal);
        Assert.Contains("session ended: Shutdown", Assert.Single(cut.Events, e => e.Kind == "disconnect").Text, StringComparison.Ordinal);
        foreach (var session in sessions)
        {
            // Every format is complete: the summary is the last event of each file.
            Assert.Equal("summary", session.Events[^1].Kind);
            var log = await File.ReadAllTextAsync(Path.Combine(transcripts, session.Id + ".log"));
            Assert.Contains(" * summary\n", log, StringComparison.Ordinal);
            Assert.Contains(" *   ended: " + session.End, log, StringComparison.Ordinal);
            Assert.EndsWith("\n", log, StringComparison.Ordinal);
            Assert.EndsWith(",summary", File.ReadAllLines(Path.Combine(transcripts, session.Id + ".csv"))[^1], StringComparison.Ordinal);
        }

        // The findings file holds exactly the findings the transcripts recorded, both sessions', whole lines.
        var recorded = sessions.SelectMany(s => s.Events.Where(e => e.Kind == "finding").Select(e => (s.Id, e.Data.GetProperty("code").GetString()))).Order().ToList();
        var logged = File.ReadAllLines(findings).Select(l => JsonDocument.Parse(l).RootElement).Where(f => f.TryGetProperty("code", out _)).Select(f => (f.GetProperty("session").GetString()!, f.GetProperty("code").GetString())).Order().ToList();
        Assert.Contains(recorded, f => f.Item1 == cut.Id && f.Item2 == "BANNER_MASKED");
        Assert.Equal(recorded, logged);

        // Transcripts, captures and findings hold decrypted mail: owner-only, and so are the directories SmtpLens made.
        var eml = Assert.Single(Directory.GetFiles(transcripts, "*.eml"));
        Assert.EndsWith("second half\r\n", await File.ReadAllTextAsync(eml), StringComparison.Ordinal);
        Assert.Equal(delivered.Sha256, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(eml))), StringComparer.OrdinalIgnoreCase);
        AssertModes(transcripts, findings, "600", "700");
        Assert.Equal("700", Convert.ToString((int)File.GetUnixFileMode(Path.GetDirectoryName(findings)!), 8));
    }

    [Fact]
    public async Task Sigterm_With_A_Short_Grace_Ends_Open_Sessions_Soon_And_Says_So()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions());
        upstream.Start();
        var transcripts = Path.Combine(_dir.FullName, "transcripts");
        var findings = Path.Combine(_dir.FullName, "findings.jsonl");
        await using var proxy = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port}", "--transcripts", transcripts, "--findings", findings, "--shutdown-grace", "1", "--transcript-mode", "0640"]);
        var endPoint = new IPEndPoint(IPAddress.Loopback, await ListenPortAsync(proxy));
        await using var midMessage = await RawSmtpClient.ConnectAsync(endPoint);
        await StepAsync(midMessage, null, "220 ");
        await StepAsync(midMessage, "EHLO short.test\r\nMAIL FROM:<a@short.test>\r\nRCPT TO:<b@short.test>\r\nDATA\r\n", "354 ");
        await midMessage.SendAsync("Subject: never finished\r\n\r\nhalf");

        var clock = Stopwatch.StartNew();
        await proxy.SignalAsync("TERM");
        await proxy.WaitForExitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"exit {clock.Elapsed.TotalSeconds:0.00} s after SIGTERM with --shutdown-grace 1"));
        Assert.Equal(0, proxy.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");

        // The sender never sees a 250 for the unfinished message, and nothing was delivered.
        Assert.True(await midMessage.ReadToEndAsync(TimeSpan.FromSeconds(5)));
        Assert.DoesNotContain("250 2.0.0", midMessage.ReceivedText[midMessage.ReceivedText.IndexOf("354 ", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Empty(upstream.Received);
        var session = Assert.Single(Sessions(transcripts));
        Assert.Equal("Shutdown", session.End);
        Assert.Contains(session.Events, e => e.Kind == "limit" && e.Text.Contains("shutdown grace period ended", StringComparison.Ordinal));
        Assert.Equal("summary", session.Events[^1].Kind);
        AssertModes(transcripts, findings, "640", "750");
    }

    [Fact]
    public async Task A_Second_Signal_Ends_The_Drain_At_Once()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions());
        upstream.Start();
        var transcripts = Path.Combine(_dir.FullName, "transcripts");
        await using var proxy = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port}", "--transcripts", transcripts, "--shutdown-grace", "300"]);
        var endPoint = new IPEndPoint(IPAddress.Loopback, await ListenPortAsync(proxy));
        await using var idle = await RawSmtpClient.ConnectAsync(endPoint);
        await StepAsync(idle, null, "220 ");

        await proxy.SignalAsync("TERM");
        await proxy.WaitForLogAsync("stopping: no longer accepting");
        var clock = Stopwatch.StartNew();
        await proxy.SignalAsync("INT");
        await proxy.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, proxy.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal("Shutdown", Assert.Single(Sessions(transcripts)).End);
    }

    private const string CiscoMaskedBanner = "****************************2*0***0****";

    private static void AssertModes(string transcripts, string findings, string file, string directory)
    {
        var files = Directory.GetFiles(transcripts).Append(findings).ToList();
        Assert.Contains(files, f => f.EndsWith(".log", StringComparison.Ordinal));
        Assert.All(files, f => Assert.Equal(file, Convert.ToString((int)File.GetUnixFileMode(f), 8)));
        Assert.Equal(directory, Convert.ToString((int)File.GetUnixFileMode(transcripts), 8));
    }

    private static async Task StepAsync(RawSmtpClient client, string? send, string expect)
    {
        var from = client.ReceivedText.Length;
        if (send is not null)
        {
            await client.SendAsync(send);
        }

        Assert.True(await client.ReadUntilAsync(expect, TimeSpan.FromSeconds(15), from), $"no \"{expect}\" after {send}: {client.ReceivedText}");
    }

    private sealed record Event(string Kind, string Text, JsonElement Data);

    private sealed record Session(string Id, string? End, List<Event> Events);

    private static List<Session> Sessions(string transcripts) =>
        [.. Directory.GetFiles(transcripts, "*.jsonl").Select(path =>
        {
            var events = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement)
                .Select(e => new Event(e.GetProperty("kind").GetString()!, e.GetProperty("text").GetString()!, e.TryGetProperty("data", out var d) ? d : default))
                .ToList();
            var end = events.FirstOrDefault(e => e.Kind == "disconnect")?.Data.GetProperty("end").GetString();
            return new Session(Path.GetFileNameWithoutExtension(path), end, events);
        })];

    /// <summary>The kernel's count (pool threads parked on transcripts grew it to about 1,000 before).</summary>
    private static string ProcessThreads(int pid) =>
        File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Threads:", StringComparison.Ordinal))?["Threads:".Length..].Trim() ?? "?";

    internal static async Task<int> ListenPortAsync(SmtplensProcess proxy)
    {
        var ready = await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)");
        return int.Parse(ready.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
