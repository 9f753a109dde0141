using SmtpLens.IO;

namespace SmtpLens.Tests.IO;

public sealed class EventThreadFairnessTests
{
    [Fact]
    public async Task AfterAsync_OnADedicatedThread_HopsToThePoolOncePerQuantum()
    {
        var done = new TaskCompletionSource<List<(bool Synchronous, bool OnPool)>>(TaskCreationOptions.RunContinuationsAsynchronously);

        // A dedicated thread stands in for the runtime's socket event thread.
        var thread = new Thread(() => done.SetResult(RunAsync().GetAwaiter().GetResult()));
        thread.Start();
        var steps = await done.Task;

        // Half a quantum twice: the second reaches it and hops; the next half quantum does not hop again.
        Assert.Equal([(true, false), (false, true), (true, true)], steps);

        static async Task<List<(bool, bool)>> RunAsync()
        {
            var fairness = new EventThreadFairness();
            var steps = new List<(bool, bool)>();
            for (var i = 0; i < 3; i++)
            {
                var pending = fairness.AfterAsync(EventThreadFairness.QuantumBytes / 2);
                var synchronous = pending.IsCompleted;
                await pending;
                steps.Add((synchronous, Thread.CurrentThread.IsThreadPoolThread));
            }

            return steps;
        }
    }
}
