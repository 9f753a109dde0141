using System.Net.Sockets;
using System.Runtime.InteropServices;
using SmtpLens.IntegrationTests.RealPeers;

namespace SmtpLens.IntegrationTests.Transparent;

/// <summary>Running commands in, and opening sockets inside, network namespaces the tests created.</summary>
internal static class NetworkNamespaces
{
    public const string Ip = "/usr/sbin/ip";
    public const string Iptables = "/usr/sbin/iptables";
    public const string Nft = "/usr/sbin/nft";
    public const string Haproxy = "/usr/sbin/haproxy";
    public const string AptInstallLine = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 iptables nftables haproxy postfix swaks libnet-ssleay-perl";
    private const int CloneNewNet = 0x40000000;

    /// <summary>Fails (never skips) with what is missing: these tests must run in CI, which is root.</summary>
    public static void EnsureUsable()
    {
        var problems = new List<string>();
        if (!OperatingSystem.IsLinux())
        {
            problems.Add("not Linux");
        }
        else if (Libc.geteuid() != 0)
        {
            problems.Add($"not root (euid {Libc.geteuid()}): creating network namespaces, veth pairs and netfilter rules needs root");
        }

        foreach (var tool in new[] { Ip, Iptables, Nft, Haproxy })
        {
            if (!File.Exists(tool))
            {
                problems.Add($"{tool} missing");
            }
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"Network-namespace tests cannot run here: {string.Join("; ", problems)}. Run them as root (CI runs tests/run.sh as root, which installs: {AptInstallLine}).");
        }
    }

    /// <summary>Runs a command inside <paramref name="ns"/> and throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string ns, params string[] command)
    {
        var run = await ChildProcess.RunAsync(Ip, ["netns", "exec", ns, .. command], TimeSpan.FromSeconds(30), CancellationToken.None);
        if (run.ExitCode != 0 || run.TimedOut)
        {
            throw new InvalidOperationException($"in namespace {ns}: {run.CommandLine} failed (exit {run.ExitCode}):\n{run.Output}");
        }

        return run.StandardOutput;
    }

    /// <summary>Runs <c>ip ARGS</c> on the host (only ever netns add/del and "ip -n NS ..." here).</summary>
    public static async Task<ChildProcessResult> IpAsync(params string[] args) =>
        await ChildProcess.RunAsync(Ip, args, TimeSpan.FromSeconds(30), CancellationToken.None);

    /// <summary>A TCP socket created inside <paramref name="ns"/>; it stays there whichever thread uses it later.</summary>
    public static Socket CreateSocket(string ns)
    {
        Socket? socket = null;
        Exception? failure = null;

        // setns applies to the calling thread only, so a throwaway thread switches, creates, and switches back.
        var thread = new Thread(() =>
        {
            try
            {
                using var home = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle($"/run/netns/{ns}");
                if (setns(target.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({ns}) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                try
                {
                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                }
                finally
                {
                    _ = setns(home.DangerousGetHandle(), CloneNewNet);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new InvalidOperationException($"could not open a socket in namespace {ns}", failure);
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need AllowUnsafeBlocks for the test project.
    [DllImport("libc", SetLastError = true)]
    private static extern int setns(nint fd, int nstype);
#pragma warning restore SYSLIB1054
}
