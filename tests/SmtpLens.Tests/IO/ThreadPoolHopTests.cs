using SmtpLens.IO;

namespace SmtpLens.Tests.IO;

public sealed class ThreadPoolHopTests
{
    [Fact]
    public async Task OffEventThread_FromADedicatedThread_ContinuesOnThePool()
    {
        var done = new TaskCompletionSource<(bool Before, bool After)>(TaskCreationOptions.RunContinuationsAsynchronously);

        // A dedicated thread stands in for the runtime's socket event thread.
        var thread = new Thread(() => done.SetResult(RunAsync().GetAwaiter().GetResult()));
        thread.Start();
        var (before, after) = await done.Task;

        Assert.False(before);
        Assert.True(after);

        static async Task<(bool, bool)> RunAsync()
        {
            var before = Thread.CurrentThread.IsThreadPoolThread;
            await ThreadPoolHop.OffEventThread;
            return (before, Thread.CurrentThread.IsThreadPoolThread);
        }
    }

    [Fact]
    public async Task OffEventThread_OnThePool_DoesNotHop()
    {
        var (threadBefore, threadAfter, completed) = await Task.Run(() =>
        {
            var id = Environment.CurrentManagedThreadId;
            var hop = ThreadPoolHop.OffEventThread.GetAwaiter();
            return (id, Environment.CurrentManagedThreadId, hop.IsCompleted);
        });

        Assert.True(completed);
        Assert.Equal(threadBefore, threadAfter);
    }
}
