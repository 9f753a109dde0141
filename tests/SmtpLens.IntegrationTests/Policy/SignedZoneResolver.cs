using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using SmtpLens.IntegrationTests.RealPeers;
using SmtpLens.IntegrationTests.Transparent;

namespace SmtpLens.IntegrationTests.Policy;

/// <summary>
/// A private network namespace with its own DNS: nsd serves a zone signed at run time with ldns-signzone, and
/// unbound validates it against that zone's key (its only trust anchor) and answers on 127.0.0.1:53 with the AD
/// bit. <c>/etc/netns/NAME/resolv.conf</c> points there, so every process started with <c>ip netns exec</c>
/// (Postfix, SmtpLens) resolves through it and the host's DNS is never asked. Dispose removes it all.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class SignedZoneResolver : IAsyncDisposable
{
    public const string AptPackages = "nsd unbound ldnsutils iproute2";
    public const string ResolverAddress = "127.0.0.1";
    private const string AuthoritativeAddress = "127.0.0.53";
    private const int AuthoritativePort = 5353;
    private readonly List<NamespacedProcess> _daemons = [];

    private SignedZoneResolver(string ns, string directory, string zone)
    {
        Namespace = ns;
        Directory = directory;
        Zone = zone;
    }

    public string Namespace { get; }

    /// <summary>Zone files, keys and daemon configuration (world-readable: Postfix's users read certificates here too).</summary>
    public string Directory { get; }

    public string Zone { get; }

    /// <summary>How long namespace, signing and both daemons took, for the test output.</summary>
    public string StartupReport { get; private set; } = "";

    private string NetnsEtc => $"/etc/netns/{Namespace}";

    /// <summary>Creates the namespace, signs <paramref name="records"/> (zone-file lines relative to the origin) and starts both daemons.</summary>
    public static async Task<SignedZoneResolver> StartAsync(string zone, IEnumerable<string> records, string directory)
    {
        EnsurePrerequisites();
        var resolver = new SignedZoneResolver("slpol" + Guid.NewGuid().ToString("N")[..8], directory, zone);
        try
        {
            await resolver.StartAsync(records);
            return resolver;
        }
        catch
        {
            await resolver.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a command inside the namespace (drill, for failure messages).</summary>
    public Task<string> RunAsync(params string[] command) => NetworkNamespaces.RunAsync(Namespace, command);

    private static void EnsurePrerequisites()
    {
        NetworkNamespaces.EnsureUsable();
        var missing = new[] { "/usr/sbin/nsd", "/usr/sbin/unbound", "/usr/bin/ldns-signzone", "/usr/bin/ldns-keygen", "/usr/bin/drill" }.Where(f => !File.Exists(f)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"Signed-zone DNS tests cannot run here: {string.Join(", ", missing)} missing. CI's tests/run.sh installs: {AptPackages}");
        }
    }

    private async Task StartAsync(IEnumerable<string> records)
    {
        var clock = Stopwatch.StartNew();
        await Must(NetworkNamespaces.IpAsync("netns", "add", Namespace), "ip netns add");
        await NetworkNamespaces.RunAsync(Namespace, NetworkNamespaces.Ip, "link", "set", "lo", "up");

        // ip netns exec bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf for what it starts.
        // trust-ad: glibc passes the AD bit to applications (Postfix's DANE) only from resolvers marked trusted.
        System.IO.Directory.CreateDirectory(NetnsEtc);
        await File.WriteAllTextAsync(Path.Combine(NetnsEtc, "resolv.conf"), $"nameserver {ResolverAddress}\noptions trust-ad\n");

        var zoneFile = Path.Combine(Directory, Zone + ".zone");
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"$ORIGIN {Zone}.\n$TTL 300\n")
            .Append(CultureInfo.InvariantCulture, $"@ IN SOA ns.{Zone}. hostmaster.{Zone}. 1 3600 600 86400 300\n")
            .Append(CultureInfo.InvariantCulture, $"@ IN NS ns.{Zone}.\nns IN A {AuthoritativeAddress}\n");
        foreach (var record in records)
        {
            text.Append(record).Append('\n');
        }

        await File.WriteAllTextAsync(zoneFile, text.ToString());
        var ksk = (await Tool("/usr/bin/ldns-keygen", "-a", "ECDSAP256SHA256", "-k", Zone)).Trim();
        var zsk = (await Tool("/usr/bin/ldns-keygen", "-a", "ECDSAP256SHA256", Zone)).Trim();
        await Tool("/usr/bin/ldns-signzone", "-n", zoneFile, ksk, zsk);
        foreach (var key in System.IO.Directory.GetFiles(Directory, "K*.private"))
        {
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var nsdConf = Path.Combine(Directory, "nsd.conf");
        await File.WriteAllTextAsync(nsdConf, $"""
            server:
              ip-address: {AuthoritativeAddress}@{AuthoritativePort}
              zonesdir: "{Directory}"
              database: ""
              zonelistfile: "{Directory}/zone.list"
              pidfile: ""
              xfrdfile: "{Directory}/xfrd.state"
              xfrdir: "{Directory}"
              username: ""
              chroot: ""
              logfile: "{Directory}/nsd.log"
              server-count: 1
              verbosity: 1
            remote-control:
              control-enable: no
            zone:
              name: {Zone}
              zonefile: {Zone}.zone.signed

            """);

        // "test." is one of unbound's built-in empty zones (RFC 6761); nodefault lets the stub through.
        var unboundConf = Path.Combine(Directory, "unbound.conf");
        await File.WriteAllTextAsync(unboundConf, $"""
            server:
              interface: {ResolverAddress}
              port: 53
              do-ip6: no
              username: ""
              chroot: ""
              directory: "{Directory}"
              pidfile: ""
              use-syslog: no
              logfile: ""
              verbosity: 1
              num-threads: 1
              do-not-query-localhost: no
              local-zone: "test." nodefault
              trust-anchor-file: "{Directory}/{ksk}.key"
              val-log-level: 2
              module-config: "validator iterator"
            remote-control:
              control-enable: no
            stub-zone:
              name: "{Zone}"
              stub-addr: {AuthoritativeAddress}@{AuthoritativePort}

            """);

        _daemons.Add(NamespacedProcess.Start(Namespace, "/usr/sbin/nsd", "-d", "-c", nsdConf));
        _daemons.Add(NamespacedProcess.Start(Namespace, "/usr/sbin/unbound", "-d", "-c", unboundConf));

        // Ready when a validated answer (AD) comes back for the zone's own SOA.
        string last = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var probe = await ChildProcess.RunAsync(NetworkNamespaces.Ip, ["netns", "exec", Namespace, "/usr/bin/drill", "-D", $"@{ResolverAddress}", "SOA", Zone], TimeSpan.FromSeconds(10), CancellationToken.None);
            last = probe.Output;
            if (probe.ExitCode == 0 && probe.StandardOutput.Contains(" ad ", StringComparison.Ordinal) && probe.StandardOutput.Contains("NOERROR", StringComparison.Ordinal))
            {
                StartupReport = $"namespace, signed zone {Zone}, nsd and validating unbound ready in {clock.ElapsedMilliseconds} ms";
                return;
            }

            if (_daemons.Any(d => d.HasExited))
            {
                break;
            }

            await Task.Delay(200);
        }

        throw new InvalidOperationException(
            $"no validated (AD) answer for {Zone} SOA from unbound in {Namespace}.\nlast drill:\n{last}\nnsd/unbound output:\n{string.Join("\n", _daemons.Select(d => d.Output))}");
    }

    private async Task<string> Tool(string file, params string[] arguments)
    {
        // ldns tools write into the current directory: run them through sh -c "cd DIR && ..." without a shell parse of the arguments.
        var run = await ChildProcess.RunAsync("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", Directory, file, .. arguments], TimeSpan.FromSeconds(30), CancellationToken.None);
        if (run.ExitCode != 0 || run.TimedOut)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed (exit {run.ExitCode}):\n{run.Output}");
        }

        return run.StandardOutput;
    }

    private static async Task Must(Task<ChildProcessResult> run, string what)
    {
        var result = await run;
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed (exit {result.ExitCode}): {result.Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var daemon in _daemons)
        {
            await daemon.DisposeAsync();
        }

        // Anything else still in the namespace (a killed test run's leftovers) is ended by pid before it goes.
        var pids = await NetworkNamespaces.IpAsync("netns", "pids", Namespace);
        foreach (var pid in pids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                _ = Libc.kill(id, Libc.SIGKILL);
            }
        }

        await NetworkNamespaces.IpAsync("netns", "del", Namespace);
        if (System.IO.Directory.Exists(NetnsEtc))
        {
            System.IO.Directory.Delete(NetnsEtc, recursive: true);
        }
    }
}
