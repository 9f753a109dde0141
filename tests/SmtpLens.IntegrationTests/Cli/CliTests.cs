using System.Net;
using System.Net.Sockets;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary>The smtplens executable as a user runs it.</summary>
public sealed class CliTests
{
    [Fact]
    public async Task Root_Help_Lists_Verbs_And_Exit_Codes()
    {
        var (code, stdout, _) = await SmtplensProcess.RunAsync("--help");
        Assert.Equal(0, code);
        Assert.Contains("proxy", stdout, StringComparison.Ordinal);
        Assert.Contains("lab", stdout, StringComparison.Ordinal);
        Assert.Contains("Exit codes: 0 ok, 1 checks failed, 2 usage or configuration error, 3 startup failure", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("proxy", new[] { "--config", "--listen", "--upstream", "--name", "--transcripts", "--capture-messages", "--no-redact", "--log-file", "--log-level", "--max-line-length", "--idle-timeout", "--max-session", "--connect-timeout", "--instance", "--tls", "--ca-dir", "--request-client-cert", "--client-cert", "--mirror-client-cert", "--keylog", "--simulate", "--pcap" })]
    [InlineData("lab", new[] { "--out", "--keep-running", "--excerpt-lines", "--log-level", "server", "--pcap" })]
    [InlineData("pcap", new[] { "--output", "Decryption Secrets" })]
    public async Task Verb_Help_Describes_Every_Option(string verb, string[] options)
    {
        var (code, stdout, _) = await SmtplensProcess.RunAsync(verb, "--help");
        Assert.Equal(0, code);
        foreach (var option in options)
        {
            Assert.Contains(option, stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("proxy", "--no-such-option")]
    [InlineData("lab", "--scenario", "no-such-scenario")]
    [InlineData("no-such-command")]
    public async Task Unknown_Options_And_Values_Exit_2_With_A_Hint(params string[] args)
    {
        var (code, _, stderr) = await SmtplensProcess.RunAsync(args);
        Assert.Equal(2, code);
        Assert.Contains("Run 'smtplens --help'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxy_Without_Listener_Is_A_Usage_Error()
    {
        var (code, _, stderr) = await SmtplensProcess.RunAsync("proxy");
        Assert.Equal(2, code);
        Assert.Contains("no listener configured", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxy_With_Bad_Upstream_Is_A_Usage_Error()
    {
        var (code, _, stderr) = await SmtplensProcess.RunAsync("proxy", "--listen", "127.0.0.1:0", "--upstream", "no-port-here");
        Assert.Equal(2, code);
        Assert.Contains("is not HOST:PORT", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mirror_And_Static_Client_Certificates_Together_Are_A_Usage_Error()
    {
        var (code, _, stderr) = await SmtplensProcess.RunAsync("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--tls", "intercept", "--mirror-client-cert", "--client-cert", "/nonexistent/client.pem");
        Assert.Equal(2, code);
        Assert.Contains("--client-cert FILE or --mirror-client-cert, not both", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mirror_Client_Certificate_Without_A_Ca_Says_How_To_Make_One()
    {
        var empty = Directory.CreateTempSubdirectory("smtplens-noca-");
        try
        {
            var (code, _, stderr) = await SmtplensProcess.RunAsync("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--ca-dir", empty.FullName, "--mirror-client-cert");
            Assert.Equal(2, code);
            Assert.Contains($"--mirror-client-cert forges certificates and needs a CA in {empty.FullName}: run 'smtplens ca init --dir {empty.FullName}'", stderr, StringComparison.Ordinal);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Simulate_Says_So_Loudly_At_Startup_And_Applies_To_The_Sessions()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions());
        upstream.Start();
        await using var proxy = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{upstream.EndPoint.Port}", "--simulate", "mask-keywords=PIPELINING", "--simulate", "mask-banner"]);
        var ready = await proxy.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)");
        await proxy.WaitForLogAsync(@"\[WRN\] SIMULATION ON for listener listener1: mask-keywords=PIPELINING; mask-banner\. This listener deliberately alters sessions");
        var port = int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        await using (var client = await RawSmtpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)))
        {
            Assert.True(await client.ReadUntilAsync("220 ***"));
            await client.SendAsync("EHLO cli.test\r\n");
            Assert.True(await client.ReadUntilAsync("250-XXXXXXXXXA\r\n"));
        }

        await proxy.InterruptAsync();
        Assert.Equal(0, proxy.ExitCode);
    }

    [Theory]
    [InlineData("strip-keyword=STARTTLS", "unknown rule \"strip-keyword\"")]
    [InlineData("client-tls=1.4", "is not one of tls1.0, tls1.1, tls1.2, tls1.3")]
    public async Task Simulate_With_A_Bad_Rule_Is_A_Usage_Error(string rule, string message)
    {
        var (code, _, stderr) = await SmtplensProcess.RunAsync("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:25", "--simulate", rule);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxy_On_A_Port_In_Use_Exits_3_With_One_Clear_Line()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var (code, _, stderr) = await SmtplensProcess.RunAsync("proxy", "--listen", $"127.0.0.1:{port}", "--upstream", "127.0.0.1:25");
        Assert.Equal(3, code);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_File_Then_Environment_Then_Options_Take_Precedence()
    {
        await using var upstream = new LabSmtpServer(new LabServerOptions());
        upstream.Start();
        var dir = Directory.CreateTempSubdirectory("smtplens-cli-").FullName;
        var configTranscripts = Path.Combine(dir, "from-config");
        var optionTranscripts = Path.Combine(dir, "from-option");
        var config = Path.Combine(dir, "smtplens.json");
        await File.WriteAllTextAsync(config, $$"""
            // comments are allowed
            {
              "Listeners": [ { "Name": "from-config", "Listen": "127.0.0.1:0", "Upstream": "127.0.0.1:{{upstream.EndPoint.Port}}" } ],
              "Transcripts": "{{configTranscripts}}",
              "Limits": { "MaxLineLength": 4096 }
            }
            """);

        await using var proxy = SmtplensProcess.Start(
            ["proxy", "--config", config, "--transcripts", optionTranscripts],
            new Dictionary<string, string> { ["SMTPLENS_Limits__MaxLineLength"] = "1024" });
        var ready = await proxy.WaitForLogAsync(@"listener from-config on 127\.0\.0\.1:(\d+)");
        var port = int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        await using (var client = await RawSmtpClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)))
        {
            Assert.True(await client.ReadUntilAsync("220 "));
            await client.SendAsync("NOOP " + new string('y', 2000) + "\r\n");
            Assert.True(await client.ReadToEndAsync(TimeSpan.FromSeconds(10)), "a 2000-byte line exceeds the environment's 1024, not the file's 4096");
        }

        await proxy.WaitForLogAsync("end CommandLineTooLong");
        await proxy.InterruptAsync();
        Assert.Equal(0, proxy.ExitCode);
        Assert.False(Directory.Exists(configTranscripts));
        var csv = Assert.Single(Directory.GetFiles(optionTranscripts, "*.csv"));
        Assert.Contains(",from-config,", await File.ReadAllTextAsync(csv), StringComparison.Ordinal);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Lab_Shows_Interception_And_The_Stripped_StartTls_And_Writes_KeyLog_And_Report()
    {
        var dir = Directory.CreateTempSubdirectory("smtplens-lab-").FullName;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("lab", "--out", dir);
        clock.Stop();
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("Lab passed", stdout, StringComparison.Ordinal);
        Assert.Contains(" C: EHLO lab-client.smtplens.test", stdout, StringComparison.Ordinal);

        // Both handshake records of the intercepted session: version, suite and the certificate each leg saw.
        Assert.Matches(@"client leg: TLSv1\.[23].*TLS_", stdout);
        Assert.Matches(@"upstream leg: TLSv1\.[23].*TLS_", stdout);
        Assert.Contains("CN=lab-upstream.smtplens.test", stdout, StringComparison.Ordinal);

        // The session through the simulated firewall: STARTTLS hidden from the sender, caught as a finding.
        Assert.Contains("simulated firewall", stdout, StringComparison.Ordinal);
        Assert.Matches(@"finding \w+ STARTTLS_NOT_OFFERED", stdout);

        var keyLog = Path.Combine(dir, "tls-keys.log");
        var report = Path.Combine(dir, "report.html");
        Assert.Contains(File.ReadLines(keyLog), l => l.StartsWith("CLIENT_RANDOM ", StringComparison.Ordinal) || l.StartsWith("CLIENT_TRAFFIC_SECRET_0 ", StringComparison.Ordinal));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyLog));
        }
        Assert.Contains("STARTTLS_NOT_OFFERED", await File.ReadAllTextAsync(report), StringComparison.Ordinal);
        // The output folder is outside the working directory here, so the paths are printed in full.
        Assert.Contains("Open the report: xdg-open " + report, stdout, StringComparison.Ordinal);
        Assert.Contains("TLS key log  " + keyLog, stdout, StringComparison.Ordinal);

        Assert.Equal(5, Directory.GetFiles(Path.Combine(dir, "maildir"), "*.eml").Length);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"the lab took {clock.Elapsed.TotalSeconds:0.0} s");
        Directory.Delete(dir, recursive: true);
    }
}
