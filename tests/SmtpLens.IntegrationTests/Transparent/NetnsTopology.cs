using System.Runtime.Versioning;

namespace SmtpLens.IntegrationTests.Transparent;

/// <summary>
/// client ⇄ edge ⇄ server: three network namespaces, unique per run, joined by veth pairs, routed through edge.
/// Only documentation ranges (RFC 5737) are used, and nothing outside these namespaces is touched.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class NetnsTopology : IAsyncDisposable
{
    public const string ClientAddress = "192.0.2.2";
    public const string EdgeClientSide = "192.0.2.1";
    public const string EdgeServerSide = "198.51.100.1";
    public const string ServerAddress = "198.51.100.2";

    /// <summary>The edge's interface towards the client: interception rules match on it.</summary>
    public const string EdgeClientInterface = "ec";

    private NetnsTopology(string prefix)
    {
        Client = prefix + "-client";
        Edge = prefix + "-edge";
        Server = prefix + "-server";
    }

    public string Client { get; }

    public string Edge { get; }

    public string Server { get; }

    public static async Task<NetnsTopology> CreateAsync()
    {
        NetworkNamespaces.EnsureUsable();
        var topology = new NetnsTopology("sl" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await topology.BuildAsync();
            return topology;
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a netfilter (or other) command in the edge namespace.</summary>
    public Task<string> EdgeAsync(params string[] command) => NetworkNamespaces.RunAsync(Edge, command);

    private async Task BuildAsync()
    {
        foreach (var ns in new[] { Client, Edge, Server })
        {
            await Must(NetworkNamespaces.IpAsync("netns", "add", ns), $"ip netns add {ns}");
            await NetworkNamespaces.RunAsync(ns, NetworkNamespaces.Ip, "link", "set", "lo", "up");
        }

        // Created inside edge with the peer placed straight into the other namespace: nothing appears on the host.
        await NetworkNamespaces.RunAsync(Edge, NetworkNamespaces.Ip, "link", "add", EdgeClientInterface, "type", "veth", "peer", "name", "ce", "netns", Client);
        await NetworkNamespaces.RunAsync(Edge, NetworkNamespaces.Ip, "link", "add", "es", "type", "veth", "peer", "name", "se", "netns", Server);

        await NetworkNamespaces.RunAsync(Client, NetworkNamespaces.Ip, "addr", "add", ClientAddress + "/24", "dev", "ce");
        await NetworkNamespaces.RunAsync(Client, NetworkNamespaces.Ip, "link", "set", "ce", "up");
        await NetworkNamespaces.RunAsync(Client, NetworkNamespaces.Ip, "route", "add", "default", "via", EdgeClientSide);

        await NetworkNamespaces.RunAsync(Server, NetworkNamespaces.Ip, "addr", "add", ServerAddress + "/24", "dev", "se");
        await NetworkNamespaces.RunAsync(Server, NetworkNamespaces.Ip, "link", "set", "se", "up");
        await NetworkNamespaces.RunAsync(Server, NetworkNamespaces.Ip, "route", "add", "default", "via", EdgeServerSide);

        await NetworkNamespaces.RunAsync(Edge, NetworkNamespaces.Ip, "addr", "add", EdgeClientSide + "/24", "dev", EdgeClientInterface);
        await NetworkNamespaces.RunAsync(Edge, NetworkNamespaces.Ip, "addr", "add", EdgeServerSide + "/24", "dev", "es");
        await NetworkNamespaces.RunAsync(Edge, NetworkNamespaces.Ip, "link", "set", EdgeClientInterface, "up");
        await NetworkNamespaces.RunAsync(Edge, NetworkNamespaces.Ip, "link", "set", "es", "up");

        // Per-namespace sysctls: the edge routes, and strict reverse-path filtering would drop TPROXY's replies.
        await NetworkNamespaces.RunAsync(Edge, "/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var ns in new[] { Client, Edge, Server })
        {
            // Whatever a test started in its namespace and did not stop (a killed test run): end it by pid.
            var pids = await NetworkNamespaces.IpAsync("netns", "pids", ns);
            foreach (var pid in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                if (int.TryParse(pid, out var id))
                {
                    _ = RealPeers.Libc.kill(id, RealPeers.Libc.SIGKILL);
                }
            }

            await NetworkNamespaces.IpAsync("netns", "del", ns);
        }
    }

    private static async Task Must(Task<RealPeers.ChildProcessResult> run, string what)
    {
        var result = await run;
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed (exit {result.ExitCode}): {result.Output}. Network-namespace tests need root with CAP_SYS_ADMIN (CI runs them as root).");
        }
    }
}
