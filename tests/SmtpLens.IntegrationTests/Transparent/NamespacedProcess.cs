using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.Versioning;

namespace SmtpLens.IntegrationTests.Transparent;

/// <summary>A long-running helper (HAProxy) inside a namespace; <c>ip netns exec</c> execs it, so the pid is the helper's.</summary>
[SupportedOSPlatform("linux")]
internal sealed class NamespacedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private NamespacedProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output => string.Join('\n', _output);

    public bool HasExited => _process.HasExited;

    public static NamespacedProcess Start(string ns, params string[] command)
    {
        var start = new ProcessStartInfo(NetworkNamespaces.Ip) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns }.Concat(command))
        {
            start.ArgumentList.Add(a);
        }

        return new NamespacedProcess(Process.Start(start)!);
    }

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
