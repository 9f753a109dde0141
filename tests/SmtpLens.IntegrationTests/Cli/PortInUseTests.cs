using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SmtpLens.Configuration;
using SmtpLens.IntegrationTests.Probe;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Net;
using SmtpLens.Proxy;
using SmtpLens.Relay;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary>Issue 12 defect 4: a second instance must not share a busy port, and a restart must not be refused
/// because of the old instance's connections in TIME_WAIT.</summary>
public sealed class PortInUseTests
{
    [Fact]
    public async Task SecondProxyOnTheSamePort_Exits3_WithOneLineNamingThePort_AndTheFirstKeepsServing()
    {
        await using var first = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"]);
        var port = int.Parse((await first.WaitForLogAsync(@"listener \S+ on 127\.0\.0\.1:(\d+)", TimeSpan.FromSeconds(60))).Groups[1].Value, CultureInfo.InvariantCulture);

        await using var second = SmtplensProcess.Start(["proxy", "--listen", $"127.0.0.1:{port}", "--upstream", "127.0.0.1:9"]);
        await second.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(3, second.ExitCode);
        var error = Assert.Single(second.Stderr.Split('\n'), l => l.Contains("cannot listen", StringComparison.Ordinal));
        Assert.Contains($"127.0.0.1:{port}", error, StringComparison.Ordinal);
        Assert.Contains("in use", error, StringComparison.Ordinal);
        Assert.DoesNotContain("SmtpLens proxy ready", second.Stderr, StringComparison.Ordinal);

        // Every connection still reaches the first instance (no kernel load-sharing with a second socket).
        Assert.False(first.HasExited);
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
    }

    [Fact]
    public async Task SecondListenerOnTheSamePort_InProcess_IsAddressAlreadyInUse()
    {
        await using var upstream = ScriptedSmtpServer.Start(GreetAndAnswerAsync);
        await using var first = Listen(0, upstream.Port);

        var e = Assert.Throws<SocketException>(() => Listen(first.LocalEndPoint.Port, upstream.Port));

        Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
    }

    [Fact]
    public async Task RestartedListener_BindsTheSamePort_WhileTheOldConnectionsAreInTimeWait()
    {
        await using var upstream = ScriptedSmtpServer.Start(GreetAndAnswerAsync);
        var old = Listen(0, upstream.Port);
        var port = old.LocalEndPoint.Port;
        old.Start();
        await using (var client = await RawSmtpClient.ConnectAsync(old.LocalEndPoint))
        {
            Assert.True(await client.ReadUntilAsync("220 "));
            await client.SendAsync("QUIT\r\n");
            // SmtpLens closes first once the upstream has: the side that closes first keeps TIME_WAIT, here on the listening port.
            Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(20)));
        }

        await old.DisposeAsync();
        Assert.True(TimeWaitOn(port), $"no TIME_WAIT connection on port {port}; the test would prove nothing");

        await using var restarted = Listen(port, upstream.Port);
        restarted.Start();
        await using var again = await RawSmtpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        Assert.True(await again.ReadUntilAsync("220 "));
    }

    private static async Task GreetAndAnswerAsync(ScriptedSmtpServer.Conversation c)
    {
        await c.SendAsync("220 up.test ESMTP");
        await c.AnswerRestAsync();
    }

    private static ProxyListener Listen(int port, int upstreamPort) =>
        new(new SessionContext(new ListenerSettings("it", new HostPort("127.0.0.1", port), new HostPort("127.0.0.1", upstreamPort)), new RelayOptions(), new TranscriptOptions(), TimeProvider.System, new RecordingLogger()), new SessionIdGenerator(TimeProvider.System));

    /// <summary>/proc/net/tcp: local address "0100007F:PORT" in hex, state 06 is TIME_WAIT.</summary>
    private static bool TimeWaitOn(int port) =>
        File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Any(c => c[1].EndsWith(":" + port.ToString("X4", CultureInfo.InvariantCulture), StringComparison.Ordinal) && c[3] == "06");
}
