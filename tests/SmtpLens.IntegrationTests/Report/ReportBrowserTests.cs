using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Lab;
using SmtpLens.Lab.Scenarios;
using SmtpLens.Policy;
using SmtpLens.Report;
using SmtpLens.Tls;
using SmtpLens.Transcripts;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.Report;

/// <summary>The HTML report, built from real runs and opened in a real headless browser: what a person sees.</summary>
public sealed class ReportBrowserTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _out = Directory.CreateTempSubdirectory("smtplens-report-");

    public void Dispose() => _out.Delete(recursive: true);

    [Fact]
    public async Task LabScenarios_LadderInOrder_StrippedStartTlsShowsItsFinding_FilterNarrows_NothingFetched()
    {
        var runs = new List<ScenarioResult>();
        foreach (var name in new[] { "healthy", "firewall-strips-starttls", "cisco-esmtp-inspection" })
        {
            var result = await LabScenarios.Find(name)!.RunAsync(Path.Combine(_out.FullName, name), NullLogger.Instance, TimeProvider.System, CancellationToken.None);
            Assert.True(result.Reproduced, name);
            runs.Add(result);
        }

        var html = Path.Combine(_out.FullName, "report.html");
        var report = IncidentReport.Load([_out.FullName]);
        report.WriteAtomically(html, TimeProvider.System.GetUtcNow());
        var stripped = runs[1];
        var key = stripped.KeySession!;
        var transcript = JsonLinesTranscriptReader.Read(Path.Combine(stripped.TranscriptDirectory, key + ".jsonl"));
        Assert.Contains(transcript, e => e.Kind == "finding" && e.Text.Contains(FindingCodes.StartTlsNotOffered, StringComparison.Ordinal));

        await using var page = await ReportPage.OpenAsync(html);
        var (shown, total) = await page.CountAsync();
        Assert.Equal(report.Count, total);
        Assert.Equal(total, shown);

        // The ladder: every command the client sent, in transcript order.
        await page.ShowSessionAsync("lab", key);
        var expected = transcript.Where(e => e.Kind is "command" or "auth-response").Select(e => e.Text.Length > 120 ? e.Text[..119] + "\u2026" : e.Text).ToArray();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, await page.TextsAsync("#ladder g.step[data-kind=cmd] text.label"));
        Assert.Contains(await page.TextsAsync("#ladder g.step[data-kind=sim] text.label"), t => t.Contains("SIMULATED", StringComparison.Ordinal));

        // The finding, with its cause and next step, on the session's page.
        var finding = page.Page.Locator($"#session-findings .finding[data-code={FindingCodes.StartTlsNotOffered}]");
        Assert.True(await finding.IsVisibleAsync());
        var findingText = await finding.InnerTextAsync();
        Assert.Contains("Next step:", findingText, StringComparison.Ordinal);
        Assert.Contains("Likely causes:", findingText, StringComparison.Ordinal);
        await page.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(_out.FullName, "session.png"), FullPage = true });
        Assert.True(new FileInfo(Path.Combine(_out.FullName, "session.png")).Length > 10_000);

        // Back to the list: the finding filter narrows it to the sessions that have that finding.
        await page.Page.EvaluateAsync("() => { location.hash = ''; }");
        await page.Page.WaitForSelectorAsync("#home:not([hidden])");
        await page.Page.SelectOptionAsync("#f-code", FindingCodes.StartTlsNotOffered);
        var (narrowed, _) = await page.CountAsync();
        var withCode = report.Sessions.Count(s => s.Findings.Any(f => f.Code == FindingCodes.StartTlsNotOffered));
        Assert.Equal(withCode, narrowed);
        Assert.InRange(narrowed, 1, total - 1);
        Assert.All(await page.TextsAsync("#spacer .row .codes"), c => Assert.Contains(FindingCodes.StartTlsNotOffered, c, StringComparison.Ordinal));

        Assert.Empty(page.Errors);
        Assert.Empty(page.Requests);
    }

    [Fact]
    public async Task ProxyRun_2000Sessions_LiveReportRewritten_RendersAndFiltersFast_NoSecret()
    {
        const int sessions = 2000;
        const string password = "report-S3cret-pw!";
        await using var f = await RelayFixture.StartAsync();
        var html = Path.Combine(f.Directory, "live", "report.html");
        await using (var live = new LiveReport(f.TranscriptDirectory, html, TimeProvider.System, TimeSpan.FromSeconds(1)))
        {
            live.Start();
            Assert.True(File.Exists(html), "the report exists from the start, empty");
            var sent = Stopwatch.StartNew();
            await Parallel.ForAsync(0, sessions, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            {
                // Every 100th session authenticates; every 7th pipelines; senders vary so the client filter has something to find.
                var options = new LabClientOptions { Pipelining = i % 7 == 0, AuthPlain = i % 100 == 0 ? ("user" + i, password) : null };
                var message = new LabMessage($"sender{i % 50}@example.test", ["rcpt@example.test"], Encoding.ASCII.GetBytes($"Subject: report {i}\r\n\r\nbody {i}\r\n"));
                var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [message], options, ct);
                Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail);
            });
            output.WriteLine($"{sessions} sessions relayed in {sent.ElapsedMilliseconds} ms");
            await f.WaitForSessionsAsync(sessions, TimeSpan.FromMinutes(2));
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (Directory.GetFiles(f.TranscriptDirectory, "*.jsonl").Length < sessions && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.True(live.Writes >= 2, $"rewritten as sessions ended ({live.Writes} writes)");
        }

        var text = await File.ReadAllTextAsync(html);
        Assert.Contains("AUTH PLAIN \\u003Credacted", text, StringComparison.Ordinal);
        Assert.DoesNotContain(password, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.ASCII.GetBytes("\0user0\0" + password))[..16], text, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(html)!, "*.tmp"));
        output.WriteLine($"report: {new FileInfo(html).Length / 1024} KiB");

        var opened = Stopwatch.StartNew();
        await using var page = await ReportPage.OpenAsync(html);
        var load = opened.ElapsedMilliseconds;
        var (shown, total) = await page.CountAsync();
        Assert.Equal(sessions, total);
        Assert.Equal(sessions, shown);
        // Only the rows in view are in the DOM.
        Assert.InRange((await page.TextsAsync("#spacer .row")).Length, 10, 60);

        var filtered = Stopwatch.StartNew();
        await page.Page.FillAsync("#f-client", "127.0.0.1");
        Assert.Equal(sessions, (await page.CountAsync()).Shown);
        await page.Page.SelectOptionAsync("#f-out", "delivered");
        await page.Page.FillAsync("#f-from", "2000-01-01T00:00:00Z");
        await page.Page.SelectOptionAsync("#f-code", new SelectOptionValue { Index = 0 });
        var sinceYear2000 = (await page.CountAsync()).Shown;
        Assert.Equal(sessions, sinceYear2000);
        await page.Page.FillAsync("#f-to", "2000-01-02T00:00:00Z");
        Assert.Equal(0, (await page.CountAsync()).Shown);
        var filterRoundTrip = filtered.ElapsedMilliseconds;
        var renderMs = double.Parse(await page.Page.GetAttributeAsync("body", "data-render-ms") ?? "0", CultureInfo.InvariantCulture);
        var filterMs = double.Parse(await page.Page.GetAttributeAsync("body", "data-filter-ms") ?? "0", CultureInfo.InvariantCulture);

        // Sorting by duration, descending, reorders the rows in view.
        await page.Page.ClickAsync("#list-head span[data-k=dur]");
        await page.Page.FillAsync("#f-to", string.Empty);
        output.WriteLine($"browser: open to ready {load} ms (script {renderMs:0} ms), one filter pass {filterMs:0.0} ms, six filter changes round trip {filterRoundTrip} ms");
        Assert.InRange(renderMs, 0, 10_000);
        Assert.InRange(filterMs, 0, 2_000);
        Assert.Empty(page.Errors);
        Assert.Empty(page.Requests);
    }

    [Fact]
    public async Task PolicyVerdicts_PerSessionTable_InTheSendersWords_AndFailingPoliciesInTheOverview()
    {
        using var pki = new TlsTestPki();
        const string mx = "mx.example.test";

        // Two real relayed sessions to the same upstream: one judged with the upstream's CA trusted, one with the
        // system trust store, which does not know that CA (what a Postfix at "verify" with default CAs would do).
        var ids = new List<string>();
        foreach (var (label, anchors) in new[] { ("trusted", (IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2>?)[pki.UpstreamCa.Certificate]), ("untrusted", null) })
        {
            var settings = new PolicySettings { Anchors = anchors, AnchorsText = anchors is null ? "system trust store" : "test CA", MxHost = mx, SenderPolicies = [PolicyIds.PostfixVerify] };
            await using var f = await RelayFixture.StartAsync(
                new LabServerOptions { TlsCertificate = pki.UpstreamCertificate(mx) },
                null,
                tls: new TlsInterceptionOptions { Authority = pki.ProxyCa },
                session: c => c with { Policies = settings });
            var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [new LabMessage("a@example.test", ["b@example.test"], Encoding.ASCII.GetBytes("Subject: policy\r\n\r\nbody\r\n"))], new LabClientOptions { StartTls = true, TlsServerName = mx }, CancellationToken.None);
            Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail);
            var summary = (await f.WaitForSessionsAsync(1)).Single();
            ids.Add(summary.SessionId);
            var copy = Directory.CreateDirectory(Path.Combine(_out.FullName, label));
            File.Copy(Path.Combine(f.TranscriptDirectory, summary.SessionId + ".jsonl"), Path.Combine(copy.FullName, summary.SessionId + ".jsonl"));
        }

        var html = Path.Combine(_out.FullName, "report.html");
        var report = IncidentReport.Load([Path.Combine(_out.FullName, "trusted"), Path.Combine(_out.FullName, "untrusted")]);
        report.WriteAtomically(html, TimeProvider.System.GetUtcNow());
        var failing = report.Sessions.Single(x => x.Id == ids[1]);
        var exoFail = failing.Policies.Single(v => v.Policy == PolicyIds.ExoCertificateValidation);
        Assert.Equal("fail", exoFail.Verdict);

        await using var page = await ReportPage.OpenAsync(html);

        // The overview: which policies fail, in how many of the sessions they judged.
        var overview = await page.Page.InnerTextAsync("#policies");
        output.WriteLine(overview);
        var verifyRow = page.Page.Locator("#policies tr", new PageLocatorOptions { HasTextString = "postfix:verify" });
        Assert.True(await verifyRow.IsVisibleAsync());
        Assert.Equal(["postfix:verify (sender's policy)", "1", "2"], (await verifyRow.Locator("td").AllInnerTextsAsync()).Select(t => t.Trim()));
        Assert.DoesNotContain("postfix:may", overview, StringComparison.Ordinal);

        // The filter narrows the list to the session that policy fails.
        await page.Page.SelectOptionAsync("#f-pol", PolicyIds.PostfixVerify);
        Assert.Equal((1, 2), await page.CountAsync());
        Assert.Equal([failing.Instance + "/" + failing.Id], await page.Page.EvaluateAsync<string[]>("() => Array.from(document.querySelectorAll('#spacer .row'), r => r.dataset.key)"));

        // The failing session: its verdict table, Postfix's and Exchange's own words.
        await page.ShowSessionAsync(failing.Instance, failing.Id);
        var verify = page.Page.Locator("#session-policies tr[data-policy='postfix:verify']");
        Assert.True(await verify.IsVisibleAsync());
        var cells = (await verify.Locator("td").AllInnerTextsAsync()).Select(t => t.Trim()).ToList();
        output.WriteLine(string.Join(" | ", cells));
        Assert.Equal("postfix:verify (sender's policy)", cells[0]);
        Assert.Equal("fail", cells[1]);
        Assert.StartsWith("Server certificate not verified", cells[2], StringComparison.Ordinal);
        var exo = (await page.Page.Locator("#session-policies tr[data-policy='exo:CertificateValidation']").InnerTextAsync()).Trim();
        Assert.Contains("fail", exo, StringComparison.Ordinal);
        Assert.Contains("451 4.4.0 Primary target IP address responded with", exo, StringComparison.Ordinal);
        Assert.Equal("pass", (await page.Page.Locator("#session-policies tr[data-policy='postfix:may'] td").Nth(1).InnerTextAsync()).Trim());
        Assert.Contains("would fail)", await page.Page.InnerTextAsync("#session-policies h2"), StringComparison.Ordinal);

        // The trusted session: the same policy passes, and says why.
        await page.ShowSessionAsync(failing.Instance, ids[0]);
        await page.Page.WaitForSelectorAsync("#session-policies tr[data-policy='postfix:verify'][data-verdict='pass']", new PageWaitForSelectorOptions { Timeout = 30_000 });
        var passed = (await page.Page.Locator("#session-policies tr[data-policy='postfix:verify'] td").AllInnerTextsAsync()).Select(t => t.Trim()).ToList();
        Assert.Equal("pass", passed[1]);
        Assert.StartsWith("Verified TLS connection established", passed[2], StringComparison.Ordinal);
        await page.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(_out.FullName, "policies.png"), FullPage = true });

        Assert.Empty(page.Errors);
        Assert.Empty(page.Requests);
    }
}
