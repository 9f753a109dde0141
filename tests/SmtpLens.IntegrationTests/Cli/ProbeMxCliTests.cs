using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using SmtpLens.IntegrationTests.Probe;
using SmtpLens.IntegrationTests.RealPeers;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Tests.Support;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary><c>smtplens probe --mx</c> against a loopback DNS server whose MX hosts have several addresses
/// (127.0.0.2, 127.0.0.3, ...), each a different server on the same port: every address is probed and compared.</summary>
[SupportedOSPlatform("linux")]
public sealed class ProbeMxCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("smtplens-probe-mx-").FullName;
    private readonly TlsTestPki _pki = new();

    public void Dispose()
    {
        _pki.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Probe_Mx_Probes_Every_Address_And_Flags_The_One_Without_StartTls()
    {
        using var mx1Certificate = _pki.UpstreamCertificate("mx1.example.test");
        using var mx2Certificate = _pki.UpstreamCertificate("mx2.example.test");
        var servers = await StartOnOnePortAsync(
            ("127.0.0.2", c => OfferStartTlsAsync(c, "mx1.example.test", mx1Certificate)),
            ("127.0.0.3", c => PlaintextOnlyAsync(c, "mx1.example.test")),
            ("127.0.0.4", c => OfferStartTlsAsync(c, "mx2.example.test", mx2Certificate)),
            ("::1", c => OfferStartTlsAsync(c, "mx2.example.test", mx2Certificate)));
        await using var a = servers[0];
        await using var b = servers[1];
        await using var c = servers[2];
        await using var d = servers[3];
        var port = a.Port.ToString(CultureInfo.InvariantCulture);
        using var dns = LoopbackDns.Start()
            .AddMx("example.test", 10, "mx1.example.test").AddMx("example.test", 20, "mx2.example.test")
            .AddAddress("mx1.example.test", IPAddress.Parse("127.0.0.3")).AddAddress("mx1.example.test", IPAddress.Parse("127.0.0.2"))
            .AddAddress("mx2.example.test", IPAddress.IPv6Loopback).AddAddress("mx2.example.test", IPAddress.Parse("127.0.0.4"));
        string[] args = ["probe", "--mx", "example.test", "--dns-server", dns.EndPoint.ToString(), "--port", port, "--ehlo", "probe.client.test", "--timeout", "20"];

        var (code, stdout, stderr) = await SmtplensProcess.RunAsync(args);
        Assert.True(code == 1, stdout + stderr);
        Assert.Empty(stderr);
        var lines = stdout.Split('\n');
        Assert.Equal($"MX example.test (asked {dns.EndPoint}): 10 mx1.example.test, 20 mx2.example.test", lines[0]);
        Assert.Contains("  mx1.example.test: A 127.0.0.2, 127.0.0.3; AAAA none", lines);
        Assert.Contains("  mx2.example.test: A 127.0.0.4; AAAA ::1", lines);

        // Every address in full, in order, each checked against its MX host's name.
        var headers = lines.Where(l => l.StartsWith("probe ", StringComparison.Ordinal)).ToList();
        Assert.Equal([$"probe mx1.example.test:{port} (MX mx1.example.test) at 127.0.0.2", $"probe mx1.example.test:{port} (MX mx1.example.test) at 127.0.0.3", $"probe mx2.example.test:{port} (MX mx2.example.test) at 127.0.0.4", $"probe mx2.example.test:{port} (MX mx2.example.test) at ::1"], headers);
        Assert.Contains("  name         mx1.example.test matches the certificate", lines);
        Assert.Contains("  name         mx2.example.test matches the certificate", lines);
        Assert.Contains(lines, l => l.StartsWith("  policy postfix:encrypt: FAIL: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  policy postfix:encrypt: PASS: ", StringComparison.Ordinal));
        Assert.Contains("  enforcement  STARTTLS enforced: not tested (run with --no-starttls: the probe then sends VRFY before TLS, never MAIL)", lines);

        // The per-address summary and the comparison across the domain.
        Assert.Contains("  mx1.example.test", lines);
        Assert.Contains(lines, l => l.StartsWith($"    127.0.0.2:{port}  STARTTLS offered; TLSv1.3, sha256 ", StringComparison.Ordinal) && l.EndsWith("CN=mx1.example.test, name matches, NOT trusted; enforced: not tested", StringComparison.Ordinal));
        Assert.Contains($"    127.0.0.3:{port}  STARTTLS NOT offered; no TLS; enforced: not tested", lines);
        Assert.Contains(lines, l => l.StartsWith("    policy postfix:encrypt ", StringComparison.Ordinal) && l.Contains($"DIFFERS: FAIL at 127.0.0.3:{port}: ", StringComparison.Ordinal) && l.Contains($"PASS at 127.0.0.2:{port}: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("    policy postfix:may ", StringComparison.Ordinal) && l.Contains("PASS at every address (2)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"    [::1]:{port} ", StringComparison.Ordinal) && l.Contains("  STARTTLS offered; TLSv1.3, sha256 ", StringComparison.Ordinal) && l.EndsWith("CN=mx2.example.test, name matches, NOT trusted; enforced: not tested", StringComparison.Ordinal));
        Assert.Contains("MX comparison (example.test: 4 addresses of 2 hosts answered):", lines);
        Assert.Contains(lines, l => l.StartsWith("  STARTTLS ", StringComparison.Ordinal) && l.EndsWith("DIFFERS within a host: offered at mx1.example.test[127.0.0.2], mx2.example.test[127.0.0.4], mx2.example.test[::1]; NOT offered at mx1.example.test[127.0.0.3]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  certificate ", StringComparison.Ordinal) && l.Contains("DIFFERS between hosts (no sender decides on this alone)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  TLS version ", StringComparison.Ordinal) && l.EndsWith("same at every address: TLSv1.3", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  WARNING  MX_TLS_INCONSISTENT: example.test's MX addresses differ: STARTTLS offered at mx1.example.test[127.0.0.2], mx2.example.test[127.0.0.4], mx2.example.test[::1], NOT offered at mx1.example.test[127.0.0.3]", StringComparison.Ordinal));

        // The JSON: one entry per address, with its verdicts and enforcement, and the comparison with the finding.
        var (jsonCode, json, jsonErr) = await SmtplensProcess.RunAsync([.. args, "--json"]);
        Assert.True(jsonCode == 1, json + jsonErr);
        var file = Path.Combine(_directory, "mx.json");
        await File.WriteAllTextAsync(file, json);
        using (var doc = JsonDocument.Parse(json))
        {
            var root = doc.RootElement;
            Assert.Equal(2, root.GetProperty("smtplensProbe").GetInt32());
            Assert.Equal(["127.0.0.2", "127.0.0.3"], root.GetProperty("mx").GetProperty("addresses")[0].GetProperty("addresses").EnumerateArray().Select(e => e.GetString()));
            var hosts = root.GetProperty("hosts").EnumerateArray().ToList();
            Assert.Equal(["127.0.0.2", "127.0.0.3", "127.0.0.4", "::1"], hosts.Select(h => h.GetProperty("address").GetString()));
            Assert.Equal(["mx1.example.test", "mx1.example.test", "mx2.example.test", "mx2.example.test"], hosts.Select(h => h.GetProperty("mx").GetString()));
            Assert.Equal([true, false, true, true], hosts.Select(h => h.GetProperty("starttls").GetProperty("offered").GetBoolean()));
            Assert.All(hosts, h => Assert.Equal("not tested", h.GetProperty("starttlsEnforced").GetProperty("value").GetString()));
            Assert.Equal(["pass", "fail", "pass", "pass"], hosts.Select(h => Verdict(h, "postfix:encrypt")));
            Assert.All(hosts, h => Assert.Equal("pass", Verdict(h, "postfix:none")));
            Assert.Contains("mx1.example.test[127.0.0.3]", hosts[1].GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("policy").GetString() == "postfix:encrypt").GetProperty("reason").GetString(), StringComparison.Ordinal);
            var comparison = root.GetProperty("comparison");
            Assert.Equal(4, comparison.GetProperty("answered").GetInt32());
            var starttls = comparison.GetProperty("aspects").EnumerateArray().Single(x => x.GetProperty("aspect").GetString() == "STARTTLS");
            Assert.True(starttls.GetProperty("differs").GetBoolean());
            Assert.True(starttls.GetProperty("withinHost").GetBoolean());
            var finding = Assert.Single(comparison.GetProperty("findings").EnumerateArray());
            Assert.Equal("MX_TLS_INCONSISTENT", finding.GetProperty("code").GetString());
            Assert.Equal("warning", finding.GetProperty("severity").GetString());
            Assert.Equal(4, finding.GetProperty("evidence").GetArrayLength());
            Assert.Equal(1, root.GetProperty("exitCode").GetInt32());
        }

        // diff still reads the file, one address per #N: the address without STARTTLS against the one with it.
        var (diffCode, diff, diffErr) = await SmtplensProcess.RunAsync("diff", file + "#1", file + "#2");
        Assert.True(diffCode == 1, diff + diffErr);
        Assert.Contains("mx.json#1 (mx1.example.test[127.0.0.2])", diff, StringComparison.Ordinal);
        Assert.Contains(diff.Split('\n'), l => l.StartsWith("  STARTTLS ", StringComparison.Ordinal) && l.EndsWith("REMOVED in B", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Probe_Mx_No_StartTls_Says_Which_Address_Enforces_Tls_With_A_Real_Postfix()
    {
        // 127.0.0.2 is a real Postfix at smtpd_tls_security_level = encrypt; 127.0.0.3 answers VRFY in plaintext.
        // inet_interfaces = all: Postfix finds no interface holding 127.0.0.2 itself (lo has 127.0.0.1/8); master.cf
        // still listens on 127.0.0.2 only.
        PostfixInstance? postfix = null;
        ScriptedSmtpServer? lax = null;
        for (var attempt = 0; lax is null; attempt++)
        {
            postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "enforcing", SelfSignedTls = true, ListenAddress = "127.0.0.2", MainCf = new Dictionary<string, string> { ["smtpd_tls_security_level"] = "encrypt", ["inet_interfaces"] = "all" } });
            try
            {
                lax = ScriptedSmtpServer.Start(AnswerVrfyInPlaintextAsync, new IPEndPoint(IPAddress.Parse("127.0.0.3"), postfix.Port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 5)
            {
                await postfix.DisposeAsync();
            }
        }

        await using var enforcing = postfix!;
        await using var plaintext = lax;
        using var dns = LoopbackDns.Start().AddMx("enforce.test", 10, "mx.enforce.test")
            .AddAddress("mx.enforce.test", IPAddress.Parse("127.0.0.2")).AddAddress("mx.enforce.test", IPAddress.Parse("127.0.0.3"));
        string[] args = ["probe", "--mx", "enforce.test", "--dns-server", dns.EndPoint.ToString(), "--port", enforcing.Port.ToString(CultureInfo.InvariantCulture), "--no-starttls", "--ehlo", "probe.client.test", "--timeout", "20"];

        var (code, stdout, stderr) = await SmtplensProcess.RunAsync(args);
        Assert.True(code == 1, stdout + stderr);
        var lines = stdout.Split('\n');
        Assert.Contains("  enforcement  STARTTLS enforced: yes (VRFY refused before TLS: 530 5.7.0 Must issue a STARTTLS command first)", lines);
        Assert.Contains("  enforcement  STARTTLS enforced: no (VRFY answered in plaintext: 252 2.0.0 Send some mail, I'll try my best; MAIL was not tried, a server may still refuse it)", lines);
        Assert.Contains(lines, l => l.StartsWith("  STARTTLS enforced ", StringComparison.Ordinal) && l.EndsWith("DIFFERS within a host: yes at mx.enforce.test[127.0.0.2]; no at mx.enforce.test[127.0.0.3]", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  WARNING  MX_TLS_INCONSISTENT: enforce.test's MX addresses differ: ", StringComparison.Ordinal) && l.Contains("STARTTLS enforced yes at mx.enforce.test[127.0.0.2], no at mx.enforce.test[127.0.0.3]", StringComparison.Ordinal));
        await enforcing.WaitForLogLinesAsync("vrfy=0/1");

        var (_, json, _) = await SmtplensProcess.RunAsync([.. args, "--json"]);
        using var doc = JsonDocument.Parse(json);
        var hosts = doc.RootElement.GetProperty("hosts").EnumerateArray().ToList();
        Assert.Equal(["yes", "no"], hosts.Select(h => h.GetProperty("starttlsEnforced").GetProperty("value").GetString()));
        Assert.Equal("VRFY refused before TLS: 530 5.7.0 Must issue a STARTTLS command first", hosts[0].GetProperty("starttlsEnforced").GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Probe_Mx_Names_A_Host_Without_Addresses_And_Exits_2()
    {
        await using var server = ScriptedSmtpServer.Start(c => PlaintextOnlyAsync(c, "mx1.example.test"), new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        using var dns = LoopbackDns.Start().AddMx("example.test", 10, "mx1.example.test").AddMx("example.test", 20, "gone.example.test")
            .AddAddress("mx1.example.test", IPAddress.Parse("127.0.0.2"));
        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("probe", "--mx", "example.test", "--dns-server", dns.EndPoint.ToString(), "--port", server.Port.ToString(CultureInfo.InvariantCulture), "--no-policy-lookups");
        Assert.True(code == 2, stdout + stderr);
        Assert.Contains($"  gone.example.test: gone.example.test: A answered NXDOMAIN; AAAA answered NXDOMAIN (asked {dns.EndPoint})", stdout.Split('\n'));
        Assert.Contains($"smtplens probe: gone.example.test:{server.Port}: gone.example.test: A answered NXDOMAIN; AAAA answered NXDOMAIN (asked {dns.EndPoint})", stderr, StringComparison.Ordinal);
        Assert.Contains($"probe mx1.example.test:{server.Port} (MX mx1.example.test) at 127.0.0.2", stdout, StringComparison.Ordinal);
    }

    private static string? Verdict(JsonElement host, string policy) =>
        host.GetProperty("policies").EnumerateArray().Single(p => p.GetProperty("policy").GetString() == policy).GetProperty("verdict").GetString();

    /// <summary>The first server on port 0 of its address, the others on that same port of theirs (127.0.0.x or ::1);
    /// starts over when the port is taken on one of them.</summary>
    private static async Task<IReadOnlyList<ScriptedSmtpServer>> StartOnOnePortAsync(params (string Address, Func<ScriptedSmtpServer.Conversation, Task> Script)[] servers)
    {
        for (var attempt = 0; ; attempt++)
        {
            var started = new List<ScriptedSmtpServer>();
            try
            {
                foreach (var (address, script) in servers)
                {
                    started.Add(ScriptedSmtpServer.Start(script, new IPEndPoint(IPAddress.Parse(address), started.Count == 0 ? 0 : started[0].Port)));
                }

                return started;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 10)
            {
                foreach (var s in started)
                {
                    await s.DisposeAsync();
                }
            }
        }
    }

    private static async Task OfferStartTlsAsync(ScriptedSmtpServer.Conversation c, string name, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        await c.SendAsync($"220 {name} ESMTP");
        await c.ExpectAsync($"250-{name}", "250-8BITMIME", "250 STARTTLS");
        if (await c.ExpectAsync("220 2.0.0 Ready to start TLS") is not { } command || !command.StartsWith("STARTTLS", StringComparison.Ordinal))
        {
            return;
        }

        await c.StartTlsAsync(certificate);
        await c.ExpectAsync($"250-{name}", "250 8BITMIME");
        await c.AnswerRestAsync();
    }

    private static async Task PlaintextOnlyAsync(ScriptedSmtpServer.Conversation c, string name)
    {
        await c.SendAsync($"220 {name} ESMTP");
        await c.ExpectAsync($"250-{name}", "250 8BITMIME");
        await c.AnswerRestAsync();
    }

    private static async Task AnswerVrfyInPlaintextAsync(ScriptedSmtpServer.Conversation c)
    {
        await c.GreetOfferingStartTlsAsync("mx.enforce.test");
        while (await c.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("QUIT", StringComparison.OrdinalIgnoreCase))
            {
                await c.SendAsync("221 2.0.0 Bye");
                return;
            }

            await c.SendAsync(line.StartsWith("VRFY", StringComparison.OrdinalIgnoreCase) ? "252 2.0.0 Send some mail, I'll try my best" : "502 5.5.2 Error: command not recognized");
        }
    }
}
