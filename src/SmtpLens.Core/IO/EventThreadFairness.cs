namespace SmtpLens.IO;

/// <summary>Keeps one busy direction of one session from holding a socket event thread.</summary>
/// <remarks>While data keeps arriving, reads complete without waiting and a pump running inline on an event
/// thread would never give it back: a 100 MB message would stall every other session on that thread. After
/// each quantum of relayed bytes the pump moves to the thread pool; its next read that has to wait brings it
/// back. Small-message sessions never reach the quantum.</remarks>
internal struct EventThreadFairness
{
    /// <summary>A few milliseconds of relaying.</summary>
    public const long QuantumBytes = 1 << 20;

    private long _sinceHop;

    public ValueTask AfterAsync(long relayedBytes)
    {
        _sinceHop += relayedBytes;
        if (_sinceHop < QuantumBytes)
        {
            return ValueTask.CompletedTask;
        }

        _sinceHop = 0;
        return HopAsync();

        static async ValueTask HopAsync() => await ThreadPoolHop.OffEventThread;
    }
}
