using System.Globalization;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.IntegrationTests.RealPeers;

namespace SmtpLens.IntegrationTests.Transparent;

/// <summary>
/// SmtpLens inserted at an edge router, for real: swaks in a client namespace sends to a Postfix smtpd in a server
/// namespace, and netfilter in the edge namespace (REDIRECT, TPROXY) or HAProxy (PROXY protocol) brings the
/// connection to the smtplens executable running there. Needs root; fails, never skips, without it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NamespaceTests
{
    private const int LensPort = 10025;
    private static readonly TimeSpan Delivery = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("iptables")]
    [InlineData("nft")]
    public async Task Redirect_OriginalDestination_DeliversAndTranscriptNamesTheDestination(string firewall)
    {
        await using var topology = await NetnsTopology.CreateAsync();
        await using var postfix = await StartServerPostfixAsync(topology);
        await AddRedirectAsync(topology, firewall);
        using var dir = new TempDirectory();
        await using var lens = await StartLensAsync(topology, dir, "--listen", $"0.0.0.0:{LensPort}", "--route", "original-destination", "--tls", "passthrough");

        var message = PeerMessages.Sample($"redirected by {firewall}");
        var swaks = await Swaks.SendAsync(NetnsTopology.ServerAddress, 25, new SwaksOptions { Message = message, To = ["bob@example.test"], NetworkNamespace = topology.Client });

        Assert.True(swaks.Succeeded, swaks + "\n" + lens.Stderr);
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, Delivery));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await postfix.WaitForLogLinesAsync($"connect from unknown[{NetnsTopology.EdgeServerSide}]");

        var (summary, events) = await ReadSessionAsync(dir.Path);
        Assert.Equal("original-destination", summary.GetProperty("route").GetString());
        Assert.Equal($"{NetnsTopology.ServerAddress}:25", summary.GetProperty("originalDestination").GetString());
        Assert.StartsWith(NetnsTopology.ClientAddress + ":", summary.GetProperty("client").GetString(), StringComparison.Ordinal);
        Assert.StartsWith(NetnsTopology.EdgeServerSide + ":", summary.GetProperty("upstreamSource").GetString(), StringComparison.Ordinal);
        var connected = Assert.Single(events, e => e.GetProperty("kind").GetString() == "upstream-connect");
        Assert.Equal($"{NetnsTopology.ServerAddress}:25", connected.GetProperty("data").GetProperty("upstream").GetString());
        Assert.Equal($"{NetnsTopology.ServerAddress}:25", connected.GetProperty("data").GetProperty("originalDestination").GetString());
        Assert.All(events, e => Assert.Equal("edge-it", e.GetProperty("instance").GetString()));
    }

    [Fact]
    public async Task Redirect_StartTls_IsInterceptedThroughTheRedirect()
    {
        await using var topology = await NetnsTopology.CreateAsync();
        await using var postfix = await StartServerPostfixAsync(topology, tls: true);
        await AddRedirectAsync(topology, "iptables");
        using var dir = new TempDirectory();
        var ca = Path.Combine(dir.Path, "ca");
        var (code, _, caError) = await SmtplensProcess.RunAsync("ca", "init", "--dir", ca);
        Assert.True(code == 0, caError);
        await using var lens = await StartLensAsync(topology, dir, "--listen", $"0.0.0.0:{LensPort}", "--route", "original-destination", "--tls", "intercept", "--ca-dir", ca);

        var peerCertificate = Path.Combine(dir.Path, "peer.pem");
        var message = PeerMessages.Sample("STARTTLS through a REDIRECT");
        var swaks = await Swaks.SendAsync(NetnsTopology.ServerAddress, 25, new SwaksOptions
        {
            Message = message,
            To = ["bob@example.test"],
            Tls = SwaksTls.StartTls,
            NetworkNamespace = topology.Client,
            ExtraArguments = ["--tls-get-peer-cert", peerCertificate],
        });

        Assert.True(swaks.Succeeded, swaks + "\n" + lens.Stderr);
        Assert.Contains("TLS started with cipher", swaks.Output, StringComparison.Ordinal);
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, Delivery));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await postfix.WaitForLogLinesAsync($"TLS connection established from unknown[{NetnsTopology.EdgeServerSide}]");

        // The client saw a certificate forged by SmtpLens's CA, mirroring the server's name.
        using (var seen = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(peerCertificate)))
        {
            using var authority = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(ca, "smtplens-ca.pem")));
            Assert.Equal(authority.Subject, seen.Issuer);
            Assert.Equal($"CN=postfix.{PostfixInstance.HarnessDomain}", seen.Subject);
        }

        var (summary, events) = await ReadSessionAsync(dir.Path);
        Assert.Equal($"{NetnsTopology.ServerAddress}:25", summary.GetProperty("originalDestination").GetString());
        Assert.Equal(2, summary.GetProperty("tls").GetArrayLength());
        var kinds = events.Select(e => e.GetProperty("kind").GetString()).ToList();
        var texts = events.Select(e => e.GetProperty("text").GetString()).ToList();
        Assert.True(texts.IndexOf("STARTTLS") < texts.FindIndex(t => t!.StartsWith("MAIL FROM:", StringComparison.Ordinal)), string.Join('\n', texts));
        Assert.Contains("tls", kinds);
    }

    [Theory]
    [InlineData("iptables")]
    [InlineData("nft")]
    public async Task Tproxy_SpoofSource_ServerSeesTheClientAddress(string firewall)
    {
        await using var topology = await NetnsTopology.CreateAsync();
        await using var postfix = await StartServerPostfixAsync(topology);
        await AddTproxyAsync(topology, firewall);
        using var dir = new TempDirectory();
        await using var lens = await StartLensAsync(topology, dir, "--listen", $"0.0.0.0:{LensPort}", "--route", "tproxy", "--spoof-source", "--tls", "passthrough");

        var message = PeerMessages.Sample($"TPROXY with spoofed source ({firewall})");
        var swaks = await Swaks.SendAsync(NetnsTopology.ServerAddress, 25, new SwaksOptions { Message = message, To = ["bob@example.test"], NetworkNamespace = topology.Client });

        Assert.True(swaks.Succeeded, swaks + "\n" + lens.Stderr);
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, Delivery));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await postfix.WaitForLogLinesAsync($"connect from unknown[{NetnsTopology.ClientAddress}]");
        Assert.DoesNotContain($"connect from unknown[{NetnsTopology.EdgeServerSide}]", await postfix.ReadLogAsync(), StringComparison.Ordinal);

        var (summary, _) = await ReadSessionAsync(dir.Path);
        Assert.Equal("tproxy", summary.GetProperty("route").GetString());
        Assert.Equal($"{NetnsTopology.ServerAddress}:25", summary.GetProperty("originalDestination").GetString());
        Assert.StartsWith(NetnsTopology.ClientAddress + ":", summary.GetProperty("upstreamSource").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("send-proxy", "v1", "v2")]
    [InlineData("send-proxy-v2", "v2", "v1")]
    public async Task Haproxy_ProxyProtocol_RealClientRecordedAndPassedOn(string haproxyOption, string accept, string send)
    {
        await using var topology = await NetnsTopology.CreateAsync();
        await using var postfix = await StartServerPostfixAsync(topology, expectProxy: true);
        using var dir = new TempDirectory();
        await using var lens = await StartLensAsync(topology, dir, "--listen", $"127.0.0.1:{LensPort}", "--upstream", $"{NetnsTopology.ServerAddress}:25", "--proxy-protocol", accept, "--send-proxy", send, "--tls", "passthrough");
        var config = Path.Combine(dir.Path, "haproxy.cfg");
        await File.WriteAllTextAsync(config, $"""
            global
              maxconn 64
            defaults
              mode tcp
              timeout connect 5s
              timeout client 30s
              timeout server 30s
            listen smtp
              bind {NetnsTopology.EdgeClientSide}:25
              server lens 127.0.0.1:{LensPort} {haproxyOption}

            """);
        await using var haproxy = NamespacedProcess.Start(topology.Edge, NetworkNamespaces.Haproxy, "-db", "-f", config);
        await WaitForListenerAsync(topology.Edge, $"{NetnsTopology.EdgeClientSide}:25", () => haproxy.HasExited ? haproxy.Output : null);

        var message = PeerMessages.Sample($"through HAProxy {haproxyOption}");
        var swaks = await Swaks.SendAsync(NetnsTopology.EdgeClientSide, 25, new SwaksOptions { Message = message, To = ["bob@example.test"], NetworkNamespace = topology.Client });

        Assert.True(swaks.Succeeded, swaks + "\n" + lens.Stderr + "\n" + haproxy.Output);
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, Delivery));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);

        // SmtpLens's own header told Postfix who the client really was.
        await postfix.WaitForLogLinesAsync($"connect from unknown[{NetnsTopology.ClientAddress}]");

        var (summary, events) = await ReadSessionAsync(dir.Path);
        Assert.StartsWith(NetnsTopology.ClientAddress + ":", summary.GetProperty("client").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("127.0.0.1:", summary.GetProperty("clientSeen").GetString(), StringComparison.Ordinal);
        var headers = events.Where(e => e.GetProperty("kind").GetString() == "proxy-header").Select(e => e.GetProperty("data")).ToList();
        var received = Assert.Single(headers, h => h.GetProperty("direction").GetString() == "received");
        Assert.Equal(accept == "v1" ? 1 : 2, received.GetProperty("version").GetInt32());
        Assert.Equal($"{NetnsTopology.EdgeClientSide}:25", received.GetProperty("destination").GetString());
        var sent = Assert.Single(headers, h => h.GetProperty("direction").GetString() == "sent");
        Assert.Equal(send == "v1" ? 1 : 2, sent.GetProperty("version").GetInt32());
        Assert.StartsWith(NetnsTopology.ClientAddress + ":", sent.GetProperty("source").GetString(), StringComparison.Ordinal);
    }

    private static Task<PostfixInstance> StartServerPostfixAsync(NetnsTopology topology, bool tls = false, bool expectProxy = false) =>
        PostfixInstance.StartAsync(new PostfixOptions
        {
            Name = "server",
            NetworkNamespace = topology.Server,
            ListenAddress = NetnsTopology.ServerAddress,
            ListenPort = 25,
            SelfSignedTls = tls,
            ExpectProxyProtocol = expectProxy,
        });

    private static async Task AddRedirectAsync(NetnsTopology topology, string firewall)
    {
        try
        {
            await AddRedirectRuleAsync(topology, firewall);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"the kernel or {firewall} refused a nat REDIRECT rule: this machine lacks NAT redirect support (CONFIG_NF_NAT_REDIRECT with CONFIG_NETFILTER_XT_TARGET_REDIRECT or CONFIG_NFT_REDIR), which these tests need.\n{e.Message}", e);
        }
    }

    private static async Task AddRedirectRuleAsync(NetnsTopology topology, string firewall)
    {
        if (firewall == "nft")
        {
            await ApplyNftAsync(topology, RedirectNft);
            return;
        }

        await topology.EdgeAsync(NetworkNamespaces.Iptables, "-t", "nat", "-A", "PREROUTING", "-i", NetnsTopology.EdgeClientInterface, "-p", "tcp", "--dport", "25", "-j", "REDIRECT", "--to-ports", LensPort.ToString(CultureInfo.InvariantCulture));
    }

    private static async Task AddTproxyAsync(NetnsTopology topology, string firewall)
    {
        try
        {
            await AddTproxyRulesAsync(topology, firewall);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"the kernel or {firewall} refused the TPROXY setup: this machine lacks TPROXY support (CONFIG_NETFILTER_XT_TARGET_TPROXY and CONFIG_NETFILTER_XT_MATCH_SOCKET, or CONFIG_NFT_TPROXY and CONFIG_NFT_SOCKET), which these tests need.\n{e.Message}", e);
        }
    }

    private static async Task AddTproxyRulesAsync(NetnsTopology topology, string firewall)
    {
        // Policy routing: packets marked 1 are delivered locally, whatever their destination address.
        await topology.EdgeAsync(NetworkNamespaces.Ip, "rule", "add", "fwmark", "1", "lookup", "100");
        await topology.EdgeAsync(NetworkNamespaces.Ip, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100");
        if (firewall == "nft")
        {
            await ApplyNftAsync(topology, TproxyNft);
            return;
        }

        string[] iptables = [NetworkNamespaces.Iptables, "-t", "mangle"];
        await topology.EdgeAsync([.. iptables, "-N", "DIVERT"]);
        await topology.EdgeAsync([.. iptables, "-A", "PREROUTING", "-p", "tcp", "-m", "socket", "--transparent", "-j", "DIVERT"]);
        await topology.EdgeAsync([.. iptables, "-A", "DIVERT", "-j", "MARK", "--set-mark", "1"]);
        await topology.EdgeAsync([.. iptables, "-A", "DIVERT", "-j", "ACCEPT"]);
        await topology.EdgeAsync([.. iptables, "-A", "PREROUTING", "-i", NetnsTopology.EdgeClientInterface, "-p", "tcp", "--dport", "25", "-j", "TPROXY", "--on-port", LensPort.ToString(CultureInfo.InvariantCulture), "--tproxy-mark", "0x1/0x1"]);
    }

    private static string RedirectNft => $$"""
        table ip smtplens {
          chain prerouting {
            type nat hook prerouting priority dstnat; policy accept;
            iifname "{{NetnsTopology.EdgeClientInterface}}" tcp dport 25 redirect to :{{LensPort}}
          }
        }

        """;

    private static string TproxyNft => $$"""
        table inet smtplens {
          chain prerouting {
            type filter hook prerouting priority mangle; policy accept;
            meta l4proto tcp socket transparent 1 meta mark set 1 accept
            iifname "{{NetnsTopology.EdgeClientInterface}}" meta l4proto tcp tcp dport 25 meta mark set 1 tproxy ip to :{{LensPort}} accept
          }
        }

        """;

    private static async Task ApplyNftAsync(NetnsTopology topology, string rules)
    {
        using var file = new TempDirectory();
        var path = Path.Combine(file.Path, "rules.nft");
        await File.WriteAllTextAsync(path, rules);
        await topology.EdgeAsync(NetworkNamespaces.Nft, "-f", path);
    }

    private static async Task<SmtplensProcess> StartLensAsync(NetnsTopology topology, TempDirectory dir, params string[] args)
    {
        var lens = SmtplensProcess.Start(["proxy", "--transcripts", Path.Combine(dir.Path, "transcripts"), "--instance", "edge-it", "--log-level", "Debug", .. args], networkNamespace: topology.Edge);
        try
        {
            await lens.WaitForLogAsync("SmtpLens proxy ready", TimeSpan.FromSeconds(60));
            return lens;
        }
        catch
        {
            await lens.DisposeAsync();
            throw;
        }
    }

    private static async Task WaitForListenerAsync(string ns, string endPoint, Func<string?> died)
    {
        for (var i = 0; i < 100; i++)
        {
            if ((await NetworkNamespaces.RunAsync(ns, "/usr/bin/ss", "-Hltn")).Contains(endPoint, StringComparison.Ordinal))
            {
                return;
            }

            if (died() is { } output)
            {
                throw new InvalidOperationException($"HAProxy exited: {output}");
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"nothing listens on {endPoint} in {ns}");
    }

    /// <summary>The one session's summary and all its JSON Lines events, once the transcript is complete.</summary>
    private static async Task<(JsonElement Summary, List<JsonElement> Events)> ReadSessionAsync(string dir)
    {
        var transcripts = Path.Combine(dir, "transcripts");
        for (var i = 0; i < 200; i++)
        {
            var file = Directory.Exists(transcripts) ? Directory.GetFiles(transcripts, "*.jsonl").SingleOrDefault() : null;
            if (file is not null)
            {
                var events = (await File.ReadAllLinesAsync(file)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
                var summary = events.FirstOrDefault(e => e.GetProperty("kind").GetString() == "summary");
                if (summary.ValueKind == JsonValueKind.Object)
                {
                    return (summary.GetProperty("data"), events);
                }
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no finished session transcript in {transcripts}");
    }

    private sealed class TempDirectory : IDisposable
    {
        public TempDirectory()
        {
            Path = System.IO.Path.Combine("/tmp", "smtplens-ns-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public void Dispose()
        {
            // Same switch as the Postfix harness: keep transcripts for a post-mortem.
            if (Environment.GetEnvironmentVariable("SMTPLENS_KEEP_PEER_DIRS") == "1")
            {
                return;
            }

            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }
}
