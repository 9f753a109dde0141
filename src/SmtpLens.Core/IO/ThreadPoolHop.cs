using System.Runtime.CompilerServices;

namespace SmtpLens.IO;

/// <summary>Awaiting it moves the rest of a method onto the thread pool, unless it already runs there.</summary>
/// <remarks>The CLI runs socket completions inline on the runtime's few event threads, so relaying costs no
/// thread switch per read. Anything that may block or burn milliseconds there (file I/O, logging, TLS
/// handshake crypto) would hold up every socket on that thread, so it hops first.</remarks>
internal readonly struct ThreadPoolHop : ICriticalNotifyCompletion
{
    /// <summary>The runtime's switch for running socket completions on its event threads (Unix).</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    public static ThreadPoolHop OffEventThread => default;

    public bool IsCompleted => Thread.CurrentThread.IsThreadPoolThread;

    public ThreadPoolHop GetAwaiter() => this;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) => ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

    public void UnsafeOnCompleted(Action continuation) => ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
}
