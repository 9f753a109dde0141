using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using SmtpLens.Configuration;
using SmtpLens.Connectors;
using SmtpLens.Findings;
using SmtpLens.Net;
using SmtpLens.Proxy;
using SmtpLens.Relay;
using SmtpLens.Simulation;
using SmtpLens.Tls;
using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;

namespace SmtpLens.Lab.Scenarios;

/// <summary>What one scenario run produced: what was set up, the sessions, the findings and the checks.</summary>
internal sealed record ScenarioResult(
    LabScenario Scenario,
    IReadOnlyList<string> Setup,
    IReadOnlyList<string> Outcomes,
    IReadOnlyList<SessionSummary> Sessions,
    string TranscriptDirectory,
    string? KeySession,
    IReadOnlyList<LabCheck> Checks,
    IReadOnlyList<Finding>? RunFindings = null)
{
    /// <summary>The sessions' findings and those about the run as a whole (CONNECTOR_WILDCARD_OVERLAP spans sessions).</summary>
    public IReadOnlyList<Finding> Findings => [.. Sessions.SelectMany(s => s.Findings), .. RunFindings ?? []];

    public bool Reproduced => Checks.Count > 0 && Checks.All(c => c.Passed);
}

/// <summary>The peers, certificates and bookkeeping one scenario run needs, all on loopback.</summary>
internal sealed class ScenarioRun : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<SessionSummary> _sessions = [];
    private readonly Lock _gate = new();
    private readonly ILogger _log;
    private int _hops;

    public ScenarioRun(string outputDirectory, ILogger log, TimeProvider time)
    {
        OutputDirectory = outputDirectory;
        TranscriptDirectory = Path.Combine(outputDirectory, "transcripts");
        Time = time;
        _log = log;
        PublicCa = CertificateAuthority.CreateEphemeral(time, "SmtpLens Lab Public CA");
        InterceptionCa = CertificateAuthority.CreateEphemeral(time, "SmtpLens Lab Interception CA");
    }

    public string OutputDirectory { get; }

    public string TranscriptDirectory { get; }

    public TimeProvider Time { get; }

    /// <summary>Stands in for a public CA: issues the lab upstreams' certificates; trusted via --upstream-ca.</summary>
    public CertificateAuthority PublicCa { get; }

    public CertificateAuthority InterceptionCa { get; }

    public List<string> Setup { get; } = [];

    public List<string> Outcomes { get; } = [];

    public List<LabCheck> Checks { get; } = [];

    public string? KeySession { get; set; }

    /// <summary>Findings about the run as a whole rather than one session.</summary>
    public List<Finding> RunFindings { get; } = [];

    public IReadOnlyList<SessionSummary> Sessions
    {
        get
        {
            lock (_gate)
            {
                return [.. _sessions];
            }
        }
    }

    public DateTimeOffset Now => Time.GetUtcNow();

    /// <summary><c>lab --check-revocation</c>, or a scenario about revocation: shared by the run's hops, disposed after them.</summary>
    public RevocationChecker? Revocation { get; private set; }

    /// <summary><c>lab --connectors FILE</c>: every hop's sessions are matched against these inbound connectors.</summary>
    public ConnectorWatch? Connectors { get; set; }

    /// <summary>Turns the revocation check on for hops started from now on (idempotent).</summary>
    public RevocationChecker EnableRevocation(TimeSpan? timeout = null) => Revocation ??= new RevocationChecker(Time, timeout ?? TimeSpan.FromSeconds(3));

    /// <summary>A certificate for a lab upstream: valid, expired, wildcard, mismatched, as the scenario needs.</summary>
    public X509Certificate2 Certificate(string commonName, string[] names, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        PublicCa.ToX509WithKey(PublicCa.Issue(commonName, names, notBefore ?? Now.AddDays(-1), notAfter ?? Now.AddDays(90)));

    /// <summary>Interception the way an admin would run it: our CA for the client leg, the lab's public CA trusted upstream.</summary>
    public TlsInterceptionOptions Intercept() =>
        new() { Authority = InterceptionCa, UpstreamTrustAnchors = [PublicCa.Certificate] };

    /// <summary>Starts a lab upstream and a SmtpLens listener in front of it.</summary>
    public ScenarioHop StartHop(string name, LabServerOptions upstream, TlsInterceptionOptions? tls = null, SimulationRules? simulation = null)
    {
        var server = new LabSmtpServer(upstream with { MailDirectory = Path.Combine(OutputDirectory, "maildir-" + name) });
        server.Start();
        var listener = new ListenerSettings(name, new HostPort("127.0.0.1", 0), new HostPort("127.0.0.1", server.EndPoint.Port)) { Simulation = simulation };
        var context = new SessionContext(listener, new RelayOptions(), new TranscriptOptions { Directory = TranscriptDirectory, Instance = "lab" }, Time, _log)
        {
            Tls = tls is null || simulation is null ? tls : simulation.ApplyTo(tls),
            Connectors = Connectors,
            Revocation = Revocation,

            // The lab's public CA stands in for a real one: the policy verdicts trust it, as --policy-ca-file would.
            Policies = new Policy.PolicySettings { Anchors = [PublicCa.Certificate], AnchorsText = "the lab's public CA" },
        };
        var proxy = new ProxyListener(context, new SessionIdGenerator(Time));
        var hop = new ScenarioHop(name, server, proxy);
        proxy.SessionCompleted += s =>
        {
            lock (_gate)
            {
                _sessions.Add(s);
            }

            hop.Completed(s);
        };
        proxy.Start();
        _owned.Add(hop);
        _hops++;
        return hop;
    }

    public void Check(string name, bool passed, string detail) => Checks.Add(new LabCheck(name, passed, detail));

    /// <summary>Checks that a finding with <paramref name="code"/> was raised in <paramref name="session"/>.</summary>
    public void ExpectFinding(SessionSummary session, string code) =>
        Check(
            $"{code} raised",
            session.Findings.Any(f => f.Code == code),
            session.Findings.Count == 0 ? "no findings" : "raised: " + string.Join(", ", session.Findings.Select(f => f.Code).Distinct()));

    public void ExpectFate(string what, MessageFate fate, bool delivered, string? contains = null)
    {
        var ok = fate.Delivered == delivered && (contains is null || fate.Report.Contains(contains, StringComparison.Ordinal));
        Check(what, ok, fate.Report);
        Outcomes.Add($"{what}: {fate.Report}");
    }

    public ScenarioResult Result(LabScenario scenario) =>
        new(scenario, [.. Setup], [.. Outcomes], Sessions, TranscriptDirectory, KeySession, [.. Checks], [.. RunFindings]);

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        if (Revocation is not null)
        {
            await Revocation.DisposeAsync();
        }

        PublicCa.Dispose();
        InterceptionCa.Dispose();
    }
}

/// <summary>A lab upstream with a SmtpLens listener in front of it.</summary>
internal sealed class ScenarioHop(string name, LabSmtpServer upstream, ProxyListener proxy) : IAsyncDisposable
{
    private readonly System.Threading.Channels.Channel<SessionSummary> _completed = System.Threading.Channels.Channel.CreateUnbounded<SessionSummary>();

    public string Name => name;

    public LabSmtpServer Upstream => upstream;

    public IPEndPoint ProxyEndPoint => proxy.LocalEndPoint;

    public void Completed(SessionSummary summary) => _completed.Writer.TryWrite(summary);

    /// <summary>The summary of the next session to end on this hop.</summary>
    public async Task<SessionSummary> NextSessionAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        return await _completed.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>Sends through SmtpLens and waits for the session's summary, so findings are final.</summary>
    public async Task<(LabClientResult Result, SessionSummary Session)> SendAsync(LabMessage message, LabClientOptions options, CancellationToken ct)
    {
        var result = await LabSmtpClient.SendAsync(ProxyEndPoint, [message], options, ct);
        return (result, await NextSessionAsync(ct));
    }

    public async ValueTask DisposeAsync()
    {
        await proxy.DisposeAsync();
        await upstream.DisposeAsync();
    }
}
