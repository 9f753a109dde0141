using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpLens.Configuration;
using SmtpLens.Lab;
using SmtpLens.Net;
using SmtpLens.Relay;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Transparent;

/// <summary>A lab upstream (or a given one) and an in-process SmtpLens listener on loopback port 0, listener settings adjustable.</summary>
internal sealed class LoopbackRelay : IAsyncDisposable
{
    private readonly ConcurrentQueue<SessionSummary> _summaries = new();

    private LoopbackRelay(LabSmtpServer? upstream, ProxyListener proxy, string directory)
    {
        Upstream = upstream;
        Proxy = proxy;
        Directory = directory;
        proxy.SessionCompleted += _summaries.Enqueue;
    }

    public LabSmtpServer? Upstream { get; }

    public ProxyListener Proxy { get; }

    public string Directory { get; }

    public static LoopbackRelay Start(Func<ListenerSettings, ListenerSettings> configure, IPEndPoint? upstream = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "smtplens-tp-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        LabSmtpServer? lab = null;
        if (upstream is null)
        {
            lab = new LabSmtpServer(new LabServerOptions { MailDirectory = Path.Combine(dir, "maildir") });
            lab.Start();
        }

        var target = upstream ?? lab!.EndPoint;
        var listener = configure(new ListenerSettings("tp", new HostPort("127.0.0.1", 0), new HostPort(target.Address.ToString(), target.Port)));
        var transcripts = new TranscriptOptions { Directory = Path.Combine(dir, "transcripts"), Instance = "tp" };
        var proxy = new ProxyListener(new SessionContext(listener, new RelayOptions(), transcripts, TimeProvider.System, NullLogger.Instance), new SessionIdGenerator(TimeProvider.System));
        proxy.Start();
        return new LoopbackRelay(lab, proxy, dir);
    }

    public async Task<SessionSummary> WaitForSessionAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (_summaries.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(_summaries.TryDequeue(out var summary), "no session finished");
        return summary;
    }

    public string Transcript(string sessionId, string extension) =>
        File.ReadAllText(Path.Combine(Directory, "transcripts", sessionId + extension));

    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync();
        if (Upstream is not null)
        {
            await Upstream.DisposeAsync();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a transcript writer may still be closing.
        }
    }
}
