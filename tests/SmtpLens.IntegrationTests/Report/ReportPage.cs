using Microsoft.Playwright;

namespace SmtpLens.IntegrationTests.Report;

/// <summary>A report opened in Debian's chromium through Playwright (its own browser download is never used),
/// recording console errors, page errors and every request that is not the file itself.</summary>
internal sealed class ReportPage : IAsyncDisposable
{
    public const string Chromium = "/usr/bin/chromium";
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private ReportPage(IPlaywright playwright, IBrowser browser, IPage page)
    {
        _playwright = playwright;
        _browser = browser;
        Page = page;
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                Errors.Add("console: " + m.Text);
            }
        };
        page.PageError += (_, e) => Errors.Add("page: " + e);
        page.Request += (_, r) =>
        {
            if (!r.Url.StartsWith("file://", StringComparison.Ordinal))
            {
                Requests.Add(r.Url);
            }
        };
    }

    public IPage Page { get; }

    public List<string> Errors { get; } = [];

    public List<string> Requests { get; } = [];

    public static async Task<ReportPage> OpenAsync(string path)
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install chromium (tests/run.sh installs it)");
        var playwright = await Playwright.CreateAsync();
        // Root in a container has no user namespace sandbox to give chromium.
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1400 } });
        var report = new ReportPage(playwright, browser, page);
        await page.GotoAsync(new Uri(Path.GetFullPath(path)).AbsoluteUri);
        await page.WaitForSelectorAsync("body[data-ready='1']", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = 60_000 });
        return report;
    }

    public async Task ShowSessionAsync(string instance, string id)
    {
        await Page.EvaluateAsync("key => { location.hash = '#s=' + encodeURIComponent(key); }", instance + "/" + id);
        await Page.WaitForSelectorAsync("#detail:not([hidden]) #ladder", new PageWaitForSelectorOptions { Timeout = 30_000 });
    }

    public Task<string[]> TextsAsync(string selector) =>
        Page.EvaluateAsync<string[]>("sel => Array.from(document.querySelectorAll(sel), e => e.textContent)", selector);

    /// <summary>The "N of M sessions" line, as numbers.</summary>
    public async Task<(int Shown, int Total)> CountAsync()
    {
        var text = await Page.InnerTextAsync("#count");
        var parts = text.Split(' ');
        return (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
