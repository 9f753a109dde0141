using System.Runtime.InteropServices;

namespace SmtpLens.Cli.Hosting;

/// <summary>SIGTERM and SIGINT for the proxy: the first asks for a drain, a second one cuts the drain short.</summary>
/// <remarks>The signals are taken over (the runtime's default would end the process at once), so the proxy can finish
/// its sessions and flush every transcript before it exits.</remarks>
internal sealed class ShutdownSignals : IDisposable
{
    private readonly TaskCompletionSource _requested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _hurry = new();
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _interrupt;

    public ShutdownSignals()
    {
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    /// <summary>Completes on the first signal.</summary>
    public Task Requested => _requested.Task;

    /// <summary>Cancelled on the second signal.</summary>
    public CancellationToken Hurry => _hurry.Token;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        if (!_requested.TrySetResult())
        {
            _hurry.Cancel();
        }
    }

    public void Dispose()
    {
        // Registrations first, so no late signal reaches a disposed source.
        _term.Dispose();
        _interrupt.Dispose();
        _hurry.Dispose();
    }
}
