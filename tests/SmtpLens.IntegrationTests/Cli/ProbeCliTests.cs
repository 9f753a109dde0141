using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using SmtpLens.IntegrationTests.Probe;
using SmtpLens.IntegrationTests.RealPeers;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary><c>smtplens probe</c> and <c>smtplens diff</c> as an admin runs them: output, files, exit codes.</summary>
[SupportedOSPlatform("linux")]
public sealed class ProbeCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("smtplens-probe-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Probe_Json_Of_Two_Postfix_Servers_Then_Diff_Finds_The_Stripped_StartTls()
    {
        await using var withTls = await PostfixInstance.StartAsync(new PostfixOptions { Name = "inside", SelfSignedTls = true });
        await using var stripped = await PostfixInstance.StartAsync(new PostfixOptions { Name = "outside", SelfSignedTls = true, MainCf = new Dictionary<string, string> { ["smtpd_discard_ehlo_keywords"] = "starttls" } });
        var transcripts = Path.Combine(_directory, "transcripts");

        var (codeA, jsonA, _) = await SmtplensProcess.RunAsync("probe", $"127.0.0.1:{withTls.Port}", "--json", "--ehlo", "probe.client.test", "--transcripts", transcripts);
        var (codeB, jsonB, _) = await SmtplensProcess.RunAsync("probe", $"127.0.0.1:{stripped.Port}", "--json", "--ehlo", "probe.client.test");
        var a = Path.Combine(_directory, "a.json");
        var b = Path.Combine(_directory, "b.json");
        await File.WriteAllTextAsync(a, jsonA);
        await File.WriteAllTextAsync(b, jsonB);

        // A self-signed certificate is untrusted (warning), so both exit 1; B also lacks STARTTLS.
        Assert.Equal(1, codeA);
        Assert.Equal(1, codeB);
        using (var doc = JsonDocument.Parse(jsonB))
        {
            Assert.Contains(doc.RootElement.GetProperty("hosts")[0].GetProperty("findings").EnumerateArray(), f => f.GetProperty("code").GetString() == "STARTTLS_NOT_OFFERED");
            Assert.Equal(1, doc.RootElement.GetProperty("exitCode").GetInt32());

            // A single-host probe carries its policy verdicts too: no STARTTLS fails encrypt, in Postfix's words.
            var encrypt = doc.RootElement.GetProperty("hosts")[0].GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("policy").GetString() == "postfix:encrypt");
            Assert.Equal("fail", encrypt.GetProperty("verdict").GetString());
            Assert.StartsWith("TLS is required, but was not offered by host ", encrypt.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal("not tested", doc.RootElement.GetProperty("hosts")[0].GetProperty("starttlsEnforced").GetProperty("value").GetString());
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("comparison").ValueKind);
        }

        using (var doc = JsonDocument.Parse(jsonA))
        {
            Assert.Equal("pass", doc.RootElement.GetProperty("hosts")[0].GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("policy").GetString() == "postfix:encrypt").GetProperty("verdict").GetString());
        }

        var (diffCode, diff, diffErr) = await SmtplensProcess.RunAsync("diff", a, b);
        Assert.True(diffCode == 1, diff + diffErr);
        Assert.Contains(diff.Split('\n'), l => l.StartsWith("  STARTTLS ", StringComparison.Ordinal) && l.EndsWith("REMOVED in B", StringComparison.Ordinal));
        Assert.Contains("WARNING  EHLO_KEYWORD_STRIPPED: STARTTLS is offered in A and absent in B", diff, StringComparison.Ordinal);
        Assert.Contains("receive connectors (ports 25 and 587, internal and external) legitimately offer different keywords", System.Text.RegularExpressions.Regex.Replace(diff, @"\s+", " "), StringComparison.Ordinal);

        // The other way round nothing is missing: B's keywords are all in A.
        var (reverseCode, reverse, _) = await SmtplensProcess.RunAsync("diff", b, a);
        Assert.Equal(0, reverseCode);
        Assert.Contains(reverse.Split('\n'), l => l.StartsWith("  - ", StringComparison.Ordinal) && l.EndsWith("added in B", StringComparison.Ordinal));

        // --transcripts wrote the proxy's three formats, and the .jsonl is itself a diff input.
        var jsonl = Assert.Single(Directory.GetFiles(transcripts, "*.jsonl"));
        Assert.Single(Directory.GetFiles(transcripts, "*.log"));
        Assert.Single(Directory.GetFiles(transcripts, "*.csv"));
        Assert.Contains("\"kind\":\"finding\"", await File.ReadAllTextAsync(jsonl), StringComparison.Ordinal);
        var (jsonlCode, jsonlDiff, _) = await SmtplensProcess.RunAsync("diff", jsonl, b, "--json");
        Assert.Equal(1, jsonlCode);
        using var diffDoc = JsonDocument.Parse(jsonlDiff);
        Assert.Equal("removed", diffDoc.RootElement.GetProperty("keywords").EnumerateArray().Single(k => k.GetProperty("keyword").GetString() == "STARTTLS").GetProperty("change").GetString());
    }

    [Fact]
    public async Task Probe_Through_A_Simulated_Cisco_Middlebox_Then_Diff_Shows_The_Masking()
    {
        // Inside: the Postfix itself. Outside: the same Postfix behind SmtpLens simulating Cisco ESMTP inspection.
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "masked", SelfSignedTls = true });
        await using var firewall = SmtplensProcess.Start(["proxy", "--listen", "127.0.0.1:0", "--upstream", $"127.0.0.1:{postfix.Port}", "--simulate", "mask-keywords=STARTTLS", "--simulate", "mask-banner", "--ca-dir", Path.Combine(_directory, "no-ca")]);
        var ready = await firewall.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)");

        var (insideCode, inside, _) = await SmtplensProcess.RunAsync("probe", $"127.0.0.1:{postfix.Port}", "--json", "--ehlo", "probe.client.test");
        var (outsideCode, outside, outsideErr) = await SmtplensProcess.RunAsync("probe", $"127.0.0.1:{ready.Groups[1].Value}", "--ehlo", "probe.client.test");
        var (_, outsideJson, _) = await SmtplensProcess.RunAsync("probe", $"127.0.0.1:{ready.Groups[1].Value}", "--json", "--ehlo", "probe.client.test");
        Assert.Equal(1, insideCode);
        Assert.True(outsideCode == 1, outside + outsideErr);
        Assert.Contains(outside.Split('\n'), l => l.StartsWith("  banner       220 ", StringComparison.Ordinal) && l.Contains("*****", StringComparison.Ordinal));
        Assert.Contains("XXXXXXXA", outside, StringComparison.Ordinal);
        Assert.Contains("WARNING  BANNER_MASKED: ", outside, StringComparison.Ordinal);
        Assert.Contains("WARNING  EHLO_KEYWORD_MASKED: EHLO keyword \"XXXXXXXA\" is masked; 8 letters, most likely STARTTLS", outside, StringComparison.Ordinal);
        Assert.Contains("WARNING  STARTTLS_NOT_OFFERED: ", outside, StringComparison.Ordinal);

        var a = Path.Combine(_directory, "inside.json");
        var b = Path.Combine(_directory, "outside.json");
        await File.WriteAllTextAsync(a, inside);
        await File.WriteAllTextAsync(b, outsideJson);
        var (diffCode, diff, diffErr) = await SmtplensProcess.RunAsync("diff", a, b);
        Assert.True(diffCode == 1, diff + diffErr);
        Assert.Contains("banner  (masked in B)", diff, StringComparison.Ordinal);
        Assert.Contains(diff.Split('\n'), l => l.StartsWith("  STARTTLS ", StringComparison.Ordinal) && l.Contains("XXXXXXXA", StringComparison.Ordinal) && l.EndsWith("MASKED in B", StringComparison.Ordinal));
        Assert.Contains("EHLO_KEYWORD_STRIPPED: STARTTLS is offered in A and masked as XXXXXXXA in B", diff, StringComparison.Ordinal);
        await firewall.InterruptAsync();
    }

    [Fact]
    public async Task Probe_Text_Report_Shows_The_Dialogue_Tls_And_Findings()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "text", SelfSignedTls = true });
        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("probe", $"127.0.0.1:{postfix.Port}", "--ehlo", "probe.client.test", "--sni", $"mx.{PostfixInstance.HarnessDomain}", "--tls-version", "tls1.2");
        Assert.True(code == 1, stdout + stderr);
        Assert.Empty(stderr);
        var lines = stdout.Split('\n');
        Assert.Equal($"probe 127.0.0.1:{postfix.Port}", lines[0]);
        Assert.Contains(lines, l => l.StartsWith($"  banner       220 {postfix.Hostname} ESMTP", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  TLS          TLSv1.3 TLS_AES_", StringComparison.Ordinal));
        Assert.Contains($"  name         mx.{PostfixInstance.HarnessDomain} matches the certificate", lines);
        Assert.Contains("  after TLS    - STARTTLS  (expected: not offered again inside TLS)", lines);
        Assert.Contains(lines, l => l.StartsWith("  WARNING  CERT_UNTRUSTED: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  INFO     CERT_WILDCARD: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  tls1.2 ", StringComparison.Ordinal) && l.Contains("accepted: TLSv1.2", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("result: ", StringComparison.Ordinal) && l.EndsWith("exit 1 (warning or above found)", StringComparison.Ordinal));
        // Postfix's own count of what each connection said: the main probe, then the tls1.2 offer. No MAIL.
        await postfix.WaitForLogLinesAsync("disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 quit=1 commands=4");
        await postfix.WaitForLogLinesAsync("disconnect from unknown[127.0.0.1] ehlo=1 starttls=1 quit=1 commands=3");
    }

    [Theory]
    [InlineData("probe", new[] { "HOST[:PORT]", "--mx", "--max-addresses", "--port", "--dns-server", "--ehlo", "--sni", "--force-starttls", "--no-starttls", "--implicit-tls", "--tls-version", "--cipher", "--timeout", "--json", "--transcripts", "Never sends MAIL", "0 no finding of warning or above, 1 at least one, 2 usage or connection error" })]
    [InlineData("diff", new[] { "--json", "EHLO_KEYWORD_STRIPPED", "masked", "0 B offers every keyword A does" })]
    public async Task Help_Describes_Every_Option_And_The_Exit_Codes(string verb, string[] expected)
    {
        var (code, stdout, _) = await SmtplensProcess.RunAsync(verb, "--help");
        Assert.Equal(0, code);
        Assert.All(expected, e => Assert.Contains(e, stdout, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Probe_Of_A_Closed_Port_Prints_One_Error_Line_And_Exits_2()
    {
        using var reserved = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        reserved.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)reserved.LocalEndPoint!).Port;
        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("probe", $"127.0.0.1:{port}");
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"smtplens probe: 127.0.0.1:{port}: cannot connect: ConnectionRefused", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "probe" }, "give either HOST[:PORT] or --mx DOMAIN")]
    [InlineData(new[] { "probe", "mx.example.test", "--mx", "example.test" }, "give either HOST[:PORT] or --mx DOMAIN")]
    [InlineData(new[] { "probe", "mx.example.test", "--force-starttls", "--no-starttls" }, "exclude each other")]
    [InlineData(new[] { "probe", "mx.example.test", "--tls-version", "tls1.4" }, "is not one of tls1.0, tls1.1, tls1.2, tls1.3")]
    [InlineData(new[] { "probe", "mx.example.test", "--port", "2525" }, "--port goes with --mx")]
    [InlineData(new[] { "probe", "--mx", "example.test", "--max-addresses", "0" }, "--max-addresses must be between 1 and 64")]
    [InlineData(new[] { "diff", "/nonexistent/a.json", "/nonexistent/b.json" }, "no such file")]
    public async Task Usage_Errors_Exit_2_With_One_Line(string[] args, string message)
    {
        var (code, stdout, stderr) = await SmtplensProcess.RunAsync(args);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains(message, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_Mx_Resolves_Through_The_Given_Dns_Server_And_Probes_The_Exchange()
    {
        await using var smtp = ScriptedSmtpServer.Start(async c =>
        {
            await c.SendAsync("220 mx.example.test ESMTP");
            await c.ExpectAsync("250-mx.example.test", "250-PIPELINING", "250 8BITMIME");
            await c.AnswerRestAsync();
        });
        using var dns = SmtpLens.Tests.Support.LoopbackDns.Start().AddMx("example.test", 10, "localhost").AddAddress("localhost", IPAddress.Loopback);
        var dnsPort = dns.EndPoint.Port;

        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("probe", "--mx", "example.test", "--dns-server", $"127.0.0.1:{dnsPort}", "--no-policy-lookups", "--port", smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // The MX, then the exchange's own addresses, all from the given server (never the system resolver).
        Assert.Equal([("example.test", SmtpLens.Tests.Support.LoopbackDns.Mx), ("localhost", SmtpLens.Tests.Support.LoopbackDns.A), ("localhost", SmtpLens.Tests.Support.LoopbackDns.Aaaa)], dns.Questions.Select(q => (q.Name, q.Type)).Distinct());
        Assert.True(code == 1, stdout + stderr);
        Assert.StartsWith($"MX example.test (asked 127.0.0.1:{dnsPort}): 10 localhost", stdout, StringComparison.Ordinal);
        Assert.Contains($"probe localhost:{smtp.Port} (MX localhost) at 127.0.0.1", stdout, StringComparison.Ordinal);
        Assert.Contains("STARTTLS_NOT_OFFERED", stdout, StringComparison.Ordinal);
    }
}
