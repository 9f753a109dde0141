using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.IntegrationTests.RealPeers;

namespace SmtpLens.IntegrationTests.Transparent;

/// <summary>The transparent options on the command line, and startup validation that says what is wrong in one line.</summary>
public sealed class TransparentCliTests
{
    [Fact]
    public async Task ProxyHelp_DescribesTheTransparentOptions()
    {
        var (code, stdout, _) = await SmtplensProcess.RunAsync("proxy", "--help");

        Assert.Equal(0, code);
        foreach (var option in new[] { "--route", "original-destination", "tproxy", "--spoof-source", "--proxy-protocol", "--send-proxy" })
        {
            Assert.Contains(option, stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--spoof-source needs --route tproxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--spoof-source")]
    [InlineData("exclude each other", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--route", "original-destination")]
    [InlineData("Upstream is missing", "--listen", "127.0.0.1:0", "--proxy-protocol", "v2")]
    public async Task ContradictoryOptions_AreAUsageErrorInOneLine(string expected, params string[] args)
    {
        var (code, _, stderr) = await SmtplensProcess.RunAsync(["proxy", .. args]);

        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortInUse_IsAStartupFailureNamingThePort()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture);

        var (code, _, stderr) = await SmtplensProcess.RunAsync("proxy", "--listen", $"127.0.0.1:{port}", "--upstream", "127.0.0.1:25", "--tls", "passthrough");

        Assert.Equal(3, code);
        var line = Assert.Single(stderr.Split('\n'), l => l.Contains("[FTL]", StringComparison.Ordinal));
        Assert.Contains($"127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.Contains("another process", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net_admin", "CAP_NET_ADMIN", "127.0.0.1:0", "--route", "tproxy")]
    [InlineData("net_bind_service", "CAP_NET_BIND_SERVICE", "127.0.0.1:25", "--upstream", "127.0.0.1:2525")]
    public async Task MissingCapability_IsAStartupFailureNamingIt(string dropped, string named, string listen, params string[] args)
    {
        // Root with the capability removed from the bounding set stands in for a service user without the grant.
        NetworkNamespaces.EnsureUsable();
        var dll = Path.Combine(AppContext.BaseDirectory, "smtplens.dll");
        var run = await ChildProcess.RunAsync(
            "/usr/bin/setpriv",
            ["--bounding-set", "-" + dropped, "--inh-caps", "-" + dropped, "dotnet", dll, "proxy", "--listen", listen, "--tls", "passthrough", .. args],
            TimeSpan.FromSeconds(60),
            CancellationToken.None);

        Assert.True(run.ExitCode == 3, run.ToString());
        var line = Assert.Single(run.StandardError.Split('\n'), l => l.Contains("[FTL]", StringComparison.Ordinal));
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.Contains("which this process lacks", line, StringComparison.Ordinal);
    }
}
