using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>Packet capture on loopback and offline SMTP dissection with tshark (Debian package tshark).</summary>
[SupportedOSPlatform("linux")]
internal static class Tshark
{
    public const string Path = "/usr/bin/tshark";
    public const string AptInstallLine = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tshark";

    /// <summary>Capturing needs root (or CAP_NET_RAW on dumpcap): fail loudly instead of capturing nothing.</summary>
    public static void EnsureAvailable()
    {
        if (!File.Exists(Path) || !File.Exists("/usr/bin/dumpcap"))
        {
            throw new InvalidOperationException($"{Path} (and dumpcap) not found. CI must run: {AptInstallLine}");
        }

        if (Libc.geteuid() != 0)
        {
            throw new InvalidOperationException($"capturing on lo needs root (euid {Libc.geteuid()}); CI runs the tests as root");
        }
    }

    /// <summary>Starts capturing TCP on <paramref name="ports"/>; returns once packets are provably being recorded.</summary>
    public static async Task<TsharkCapture> CaptureAsync(string file, params int[] ports)
    {
        EnsureAvailable();
        var capture = new TsharkCapture(file, ports);
        try
        {
            await capture.StartAsync();
            return capture;
        }
        catch
        {
            await capture.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Reads <paramref name="field"/> of every packet matching <paramref name="displayFilter"/> in <paramref name="file"/>,
    /// with the packet's destination port, one row per occurrence (one segment may carry several commands). Each port in
    /// <paramref name="smtpPorts"/> is decoded as SMTP (none is 25/587), so tshark follows STARTTLS into TLS there.
    /// </summary>
    public static async Task<IReadOnlyList<(int Port, string Value)>> ReadAsync(string file, string? keyLog, string displayFilter, string field, params int[] smtpPorts)
    {
        var arguments = new List<string>
        {
            "-r", file,

            // Always set, empty without a key log, so no keylog_file from a user profile can decrypt behind our back.
            "-o", "tls.keylog_file:" + (keyLog ?? ""),
            "-Y", displayFilter,
            "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=" + Aggregator,
            "-e", "tcp.dstport", "-e", field,
        };
        foreach (var port in smtpPorts)
        {
            arguments.AddRange(["-d", $"tcp.port=={port.ToString(CultureInfo.InvariantCulture)},smtp"]);
        }

        var run = await ChildProcess.RunAsync(Path, arguments, TimeSpan.FromSeconds(60), CancellationToken.None);
        if (run.ExitCode != 0 || run.TimedOut)
        {
            throw new InvalidOperationException($"tshark failed (exit {run.ExitCode}):\n{run.CommandLine}\n{run.Output}");
        }

        var rows = new List<(int, string)>();
        foreach (var line in run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var columns = line.Split('\t');
            if (columns.Length < 2 || !int.TryParse(columns[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                continue;
            }

            // tshark shows a line's CRLF as the two-character escapes "\r\n".
            rows.AddRange(columns[1].Split(Aggregator, StringSplitOptions.RemoveEmptyEntries)
                .Select(v => (port, v.Replace("\\r\\n", "", StringComparison.Ordinal))));
        }

        return rows;
    }

    private const string Aggregator = "\u001f";
}

/// <summary>
/// tshark writing a pcapng in the background. Start and stop are bracketed by UDP marker datagrams that tshark
/// must report (-P): the first proves the capture is live before the test's traffic, the last that everything
/// before it has been written, so SIGINT loses nothing.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class TsharkCapture : IAsyncDisposable
{
    private const int SIGINT = 2;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly string _file;
    private readonly int[] _ports;
    private readonly int _markerPort = FreePort.Next();
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();
    private Process? _process;

    public TsharkCapture(string file, int[] ports)
    {
        _file = file;
        _ports = ports;
    }

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    public async Task StartAsync()
    {
        var filter = string.Join(" or ", _ports.Select(p => $"tcp port {p.ToString(CultureInfo.InvariantCulture)}")) + $" or udp port {_markerPort.ToString(CultureInfo.InvariantCulture)}";
        var startInfo = new ProcessStartInfo(Tshark.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-i", "lo", "-f", filter, "-w", _file, "-l", "-P" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        _process = new Process { StartInfo = startInfo };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        await WaitForAsync(o => o.Contains("Capturing on 'Loopback: lo'", StringComparison.Ordinal), "\"Capturing on 'Loopback: lo'\"", null);
        await WaitForAsync(o => o.Contains(MarkerSeen("start"), StringComparison.Ordinal), "the start marker packet", "start");
    }

    /// <summary>Flushes everything captured so far to the file, then stops tshark the way Ctrl-C would.</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            throw new InvalidOperationException($"tshark is not running:\n{Output}");
        }

        await WaitForAsync(o => o.Contains(MarkerSeen("end"), StringComparison.Ordinal), "the stop marker packet", "end");
        _ = Libc.kill(_process.Id, SIGINT);
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"tshark did not stop within {Patience.TotalSeconds:0} s of SIGINT:\n{Output}");
        }

        if (_process.ExitCode != 0)
        {
            throw new InvalidOperationException($"tshark exited with {_process.ExitCode}:\n{Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }

            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    /// <summary>The -P summary of a marker datagram: its UDP payload length identifies it.</summary>
    private string MarkerSeen(string payload) => $"{_markerPort.ToString(CultureInfo.InvariantCulture)} Len={payload.Length.ToString(CultureInfo.InvariantCulture)}";

    private async Task WaitForAsync(Func<string, bool> seen, string what, string? marker)
    {
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        var clock = Stopwatch.StartNew();
        while (!seen(Output))
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"tshark exited ({_process.ExitCode}) before {what}:\n{Output}");
            }

            if (clock.Elapsed > Patience)
            {
                throw new TimeoutException($"tshark did not report {what} within {Patience.TotalSeconds:0} s:\n{Output}");
            }

            if (marker is not null)
            {
                await udp.SendAsync(Encoding.ASCII.GetBytes(marker), new IPEndPoint(IPAddress.Loopback, _markerPort));
            }

            await Task.Delay(100);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.Append(line).Append('\n');
        }
    }
}
