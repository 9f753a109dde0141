using SmtpLens.StateMachine;

namespace SmtpLens.Relay;

/// <summary>One idle timer shared by both relay directions, plus the session's hard time limit.</summary>
/// <remarks>Resets are throttled to one a second: a 100 MB message would otherwise re-arm the timer
/// thousands of times for no gain in precision.</remarks>
internal sealed class ActivityTimeout : IDisposable
{
    private static readonly TimeSpan ResetResolution = TimeSpan.FromSeconds(1);
    private readonly CancellationTokenSource _idle;
    private readonly CancellationTokenSource _lifetime;
    private readonly CancellationTokenSource _linked;
    private readonly CancellationToken _outer;
    private readonly TimeProvider _time;
    private readonly TimeSpan _idleTimeout;
    private long _lastReset;

    public ActivityTimeout(TimeSpan idleTimeout, TimeSpan maxSession, TimeProvider time, CancellationToken outer)
    {
        _time = time;
        _idleTimeout = idleTimeout;
        _outer = outer;
        _idle = new CancellationTokenSource(idleTimeout, time);
        _lifetime = new CancellationTokenSource(maxSession, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(outer, _idle.Token, _lifetime.Token);
        _lastReset = time.GetTimestamp();
    }

    public CancellationToken Token => _linked.Token;

    /// <summary>Why the token fired, if it did: shutdown wins over the session limit, which wins over idleness.</summary>
    public SessionEndReason? Expired =>
        _outer.IsCancellationRequested ? SessionEndReason.Shutdown
        : _lifetime.IsCancellationRequested ? SessionEndReason.SessionTimeLimit
        : _idle.IsCancellationRequested ? SessionEndReason.IdleTimeout
        : null;

    /// <summary>Stops everything now (one side failed, so the other must stop too).</summary>
    public void Cancel() => _linked.Cancel();

    public void Reset()
    {
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(Interlocked.Read(ref _lastReset), now) < ResetResolution)
        {
            return;
        }

        Interlocked.Exchange(ref _lastReset, now);
        try
        {
            _idle.CancelAfter(_idleTimeout);
        }
        catch (ObjectDisposedException)
        {
            // The session ended while a late read completed.
        }
    }

    public void Dispose()
    {
        _linked.Dispose();
        _idle.Dispose();
        _lifetime.Dispose();
    }
}
