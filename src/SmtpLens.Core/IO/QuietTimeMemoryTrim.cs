namespace SmtpLens.IO;

/// <summary>Gives memory back to the OS once the proxy has gone quiet after a burst.</summary>
/// <remarks>After a burst the workstation GC keeps the regions and pooled buffers it grew into, and with no new
/// allocations no collection runs to decommit them: a soak left RSS at 1.8x its baseline for as long as the proxy
/// stayed quiet. One aggressive collection when a check period saw no session start or end returns that memory;
/// it runs only while nothing is happening, so no session waits for it, and at most once per quiet spell.</remarks>
internal sealed class QuietTimeMemoryTrim(Action trim)
{
    private long _activity;
    private long _seenActivity;
    private bool _trimmedSinceActivity = true;

    /// <summary>A trim that decommits what the GC can (blocking, compacting, and trimming the shared pools).</summary>
    public static readonly Action Aggressive = static () => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>A session started or ended.</summary>
    public void Observe() => Interlocked.Increment(ref _activity);

    /// <summary>One check period has passed: trims if it saw no activity and the last trim came before the last activity.</summary>
    public bool Tick()
    {
        var activity = Interlocked.Read(ref _activity);
        if (activity != _seenActivity)
        {
            _seenActivity = activity;
            _trimmedSinceActivity = false;
            return false;
        }

        if (_trimmedSinceActivity)
        {
            return false;
        }

        _trimmedSinceActivity = true;
        trim();
        return true;
    }

    /// <summary>Checks every <paramref name="period"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan period, TimeProvider time, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Tick();
        }
    }
}
