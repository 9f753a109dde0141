namespace SmtpLens.Probe;

/// <summary>A time limit for one step (a reply, a handshake) on the given clock, linked to the caller's token.</summary>
internal sealed class StepDeadline : IDisposable
{
    private readonly CancellationTokenSource _deadline;
    private readonly CancellationTokenSource _linked;

    public StepDeadline(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        _deadline = new CancellationTokenSource(timeout, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _deadline.Token);
    }

    public CancellationToken Token => _linked.Token;

    public bool Expired => _deadline.IsCancellationRequested;

    public void Dispose()
    {
        _linked.Dispose();
        _deadline.Dispose();
    }
}
