using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace SmtpLens.IntegrationTests.Cli;

/// <summary>Runs the real <c>smtplens</c> executable from the test output directory.</summary>
internal sealed class SmtplensProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private SmtplensProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _stderr.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Stdout => string.Join('\n', _stdout);

    public string Stderr => string.Join('\n', _stderr);

    public int ExitCode => _process.ExitCode;

    public bool HasExited => _process.HasExited;

    /// <param name="networkNamespace">Run inside this network namespace (<c>ip netns exec</c> execs dotnet, so the pid stays ours).</param>
    public static SmtplensProcess Start(IEnumerable<string> args, IDictionary<string, string>? environment = null, string? workingDirectory = null, string? networkNamespace = null)
    {
        var start = new ProcessStartInfo(networkNamespace is null ? "dotnet" : "/usr/sbin/ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        if (networkNamespace is not null)
        {
            foreach (var a in new[] { "netns", "exec", networkNamespace, "dotnet" })
            {
                start.ArgumentList.Add(a);
            }
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "smtplens.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }

        return new SmtplensProcess(Process.Start(start)!);
    }

    /// <summary>Runs to completion and returns the exit code.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        await using var p = Start(args);
        await p.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (p.ExitCode, p.Stdout, p.Stderr);
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
    }

    /// <summary>Waits for a stderr log line matching <paramref name="pattern"/> and returns the match.</summary>
    public async Task<Match> WaitForLogAsync(string pattern, TimeSpan? timeout = null)
    {
        var regex = new Regex(pattern);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            foreach (var line in _stderr)
            {
                var m = regex.Match(line);
                if (m.Success)
                {
                    return m;
                }
            }

            if (_process.HasExited)
            {
                break;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no log line matching /{pattern}/; stderr so far:\n{Stderr}\nstdout:\n{Stdout}");
    }

    /// <summary>Ctrl-C, as a user would stop it.</summary>
    public async Task InterruptAsync()
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        await WaitForExitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>Sends a signal (TERM, INT) without waiting for the process to exit.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public int Id => _process.Id;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
