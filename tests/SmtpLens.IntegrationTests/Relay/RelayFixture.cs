using System.Collections.Concurrent;
using System.Net;
using SmtpLens.Configuration;
using SmtpLens.Findings;
using SmtpLens.Lab;
using SmtpLens.Net;
using SmtpLens.Proxy;
using SmtpLens.Relay;
using SmtpLens.Simulation;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Relay;

/// <summary>Lab upstream + SmtpLens proxy, both on loopback port 0, with transcripts in a temp directory.</summary>
internal sealed class RelayFixture : IAsyncDisposable
{
    private readonly ConcurrentQueue<SessionSummary> _summaries = new();

    private RelayFixture(LabSmtpServer? upstream, ProxyListener proxy, string directory)
    {
        Upstream = upstream;
        Proxy = proxy;
        Directory = directory;
        proxy.SessionCompleted += _summaries.Enqueue;
    }

    public LabSmtpServer? Upstream { get; }

    public ProxyListener Proxy { get; }

    public string Directory { get; }

    public string TranscriptDirectory => Path.Combine(Directory, "transcripts");

    /// <summary>What the proxy logged, as an admin would read it.</summary>
    public RecordingLogger Log { get; private init; } = new();

    public IPEndPoint ProxyEndPoint => Proxy.LocalEndPoint;

    public static Task<RelayFixture> StartAsync(LabServerOptions? upstream = null, RelayOptions? relay = null, TranscriptOptions? transcripts = null, TlsInterceptionOptions? tls = null, bool implicitTls = false, SimulationRules? simulation = null, FindingsLog? findings = null) =>
        StartAsync(upstream ?? new LabServerOptions(), null, relay, transcripts, tls, implicitTls, simulation, findings);

    /// <summary>With <paramref name="upstreamOverride"/>, the proxy points there and no lab server runs.</summary>
    /// <param name="configure">Adjusts the listener (PROXY protocol, routing) before it starts.</param>
    /// <param name="session">Adjusts what every session shares (connectors, revocation checks, policy settings and lookups).</param>
    public static Task<RelayFixture> StartAsync(LabServerOptions? upstreamOptions, IPEndPoint? upstreamOverride, RelayOptions? relay = null, TranscriptOptions? transcripts = null, TlsInterceptionOptions? tls = null, bool implicitTls = false, SimulationRules? simulation = null, FindingsLog? findings = null, Func<ListenerSettings, ListenerSettings>? configure = null, Func<SessionContext, SessionContext>? session = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "smtplens-it-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(dir);
        LabSmtpServer? server = null;
        if (upstreamOverride is null)
        {
            server = new LabSmtpServer((upstreamOptions ?? new LabServerOptions()) with { MailDirectory = Path.Combine(dir, "maildir") });
            server.Start();
        }

        var target = upstreamOverride ?? server!.EndPoint;
        var listener = new ListenerSettings("it", new HostPort("127.0.0.1", 0), new HostPort(target.Address.ToString(), target.Port)) { ImplicitTls = implicitTls, Simulation = simulation };
        listener = configure?.Invoke(listener) ?? listener;
        var options = (transcripts ?? new TranscriptOptions()) with { Directory = Path.Combine(dir, "transcripts"), Instance = "it" };
        var log = new RecordingLogger();
        var context = new SessionContext(listener, relay ?? new RelayOptions(), options, TimeProvider.System, log) { Tls = tls is null || simulation is null ? tls : simulation.ApplyTo(tls), FindingsLog = findings };
        context = session?.Invoke(context) ?? context;
        var proxy = new ProxyListener(context, new SessionIdGenerator(TimeProvider.System));
        proxy.Start();
        return Task.FromResult(new RelayFixture(server, proxy, dir) { Log = log });
    }

    public async Task<IReadOnlyList<SessionSummary>> WaitForSessionsAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (_summaries.Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(_summaries.Count >= count, $"expected {count} finished session(s), saw {_summaries.Count}");
        return [.. _summaries];
    }

    public string ReadTranscript(string sessionId, string extension) =>
        File.ReadAllText(Path.Combine(TranscriptDirectory, sessionId + extension));

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
            // A file still open by a late writer; the temp dir is harmless.
        }
    }
}
