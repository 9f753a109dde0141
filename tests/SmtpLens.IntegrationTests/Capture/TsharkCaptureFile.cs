using System.Globalization;
using System.Runtime.Versioning;
using SmtpLens.IntegrationTests.RealPeers;

namespace SmtpLens.IntegrationTests.Capture;

/// <summary>Reads a capture file with tshark and capinfos (Debian tshark / wireshark-common), with no key-log option.</summary>
[SupportedOSPlatform("linux")]
internal static class TsharkCaptureFile
{
    private const string Capinfos = "/usr/bin/capinfos";

    // tshark's own warning when run as root (CI runs as root); it says nothing about the file.
    private const string RootWarning = "Running as user \"root\" and group \"root\". This could be dangerous.";

    /// <summary><c>tshark -r FILE</c> and <c>capinfos FILE</c>: exit 0 and nothing on stderr; returns tshark's packet list.</summary>
    public static async Task<string> ReadCleanlyAsync(string file)
    {
        if (!File.Exists(Tshark.Path) || !File.Exists(Capinfos))
        {
            throw new InvalidOperationException($"tshark and capinfos are needed. CI must run: {Tshark.AptInstallLine}");
        }

        var read = await ChildProcess.RunAsync(Tshark.Path, ["-r", file, "-o", "tls.keylog_file:"], TimeSpan.FromSeconds(60), CancellationToken.None);
        var errors = read.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l != RootWarning).ToList();
        Assert.True(read.ExitCode == 0 && !read.TimedOut && errors.Count == 0, $"{read.CommandLine}: exit {read.ExitCode}\n{read.Output}");

        var info = await ChildProcess.RunAsync(Capinfos, [file], TimeSpan.FromSeconds(60), CancellationToken.None);
        Assert.True(info.ExitCode == 0 && info.StandardError.Trim().Length == 0, $"{info.CommandLine}: exit {info.ExitCode}\n{info.Output}");
        return read.StandardOutput;
    }

    /// <summary><c>-z follow,PROTO,raw,STREAM</c>: the bytes the side that dialled (not on an SMTP port) sent, and the bytes it received.</summary>
    public static async Task<(byte[] FromDialler, byte[] ToDialler)> FollowAsync(string file, string protocol, int stream, IReadOnlyCollection<int> smtpPorts)
    {
        var arguments = new List<string> { "-r", file, "-o", "tls.keylog_file:", "-q", "-z", $"follow,{protocol},raw,{stream.ToString(CultureInfo.InvariantCulture)}" };
        foreach (var port in smtpPorts)
        {
            arguments.AddRange(["-d", $"tcp.port=={port.ToString(CultureInfo.InvariantCulture)},smtp"]);
        }

        var run = await ChildProcess.RunAsync(Tshark.Path, arguments, TimeSpan.FromSeconds(60), CancellationToken.None);
        Assert.True(run.ExitCode == 0, $"{run.CommandLine}: exit {run.ExitCode}\n{run.Output}");
        var from = new List<byte>();
        var to = new List<byte>();
        var inBody = false;
        var nodeZeroServes = false;
        foreach (var line in run.StandardOutput.Split('\n'))
        {
            // tshark names as node 0 the sender of the first packet it follows: for TLS 1.3 that can be the server.
            if (line.StartsWith("Node 0:", StringComparison.Ordinal))
            {
                var port = line[(line.LastIndexOf(':') + 1)..].Trim();
                nodeZeroServes = smtpPorts.Any(p => p.ToString(CultureInfo.InvariantCulture) == port);
                continue;
            }

            if (line.StartsWith("Node 1:", StringComparison.Ordinal))
            {
                inBody = true;
                continue;
            }

            if (!inBody || line.StartsWith("=====", StringComparison.Ordinal) || line.Trim().Length == 0)
            {
                continue;
            }

            // Lines from node 1 are indented by a tab.
            (line.StartsWith('\t') != nodeZeroServes ? to : from).AddRange(Convert.FromHexString(line.Trim()));
        }

        return ([.. from], [.. to]);
    }

    /// <summary>What an application saw on a STARTTLS stream: the cleartext up to the first TLS record, then the decrypted data.</summary>
    public static async Task<(byte[] FromDialler, byte[] ToDialler)> DecryptedStreamAsync(string file, int stream, IReadOnlyCollection<int> smtpPorts)
    {
        var (rawFrom, rawTo) = await FollowAsync(file, "tcp", stream, smtpPorts);
        var (tlsFrom, tlsTo) = await FollowAsync(file, "tls", stream, smtpPorts);
        return ([.. Cleartext(rawFrom), .. tlsFrom], [.. Cleartext(rawTo), .. tlsTo]);
    }

    /// <summary>SMTP is text: a handshake record (0x16 0x03) marks where TLS began.</summary>
    private static byte[] Cleartext(byte[] raw)
    {
        for (var i = 0; i + 1 < raw.Length; i++)
        {
            if (raw[i] == 0x16 && raw[i + 1] == 0x03)
            {
                return raw[..i];
            }
        }

        return raw;
    }
}
