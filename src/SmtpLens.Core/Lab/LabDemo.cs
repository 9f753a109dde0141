using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using SmtpLens.Configuration;
using SmtpLens.Findings;
using SmtpLens.IO;
using SmtpLens.Net;
using SmtpLens.Proxy;
using SmtpLens.Relay;
using SmtpLens.Report;
using SmtpLens.Simulation;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Lab;

/// <summary>One thing the lab run verified, shown to the user as [ok] or [FAIL].</summary>
internal sealed record LabCheck(string Name, bool Passed, string Detail)
{
    public string Line => $"[{(Passed ? "ok" : "FAIL")}] {Name}: {Detail}";
}

internal sealed record LabRunResult(
    string TranscriptDirectory,
    string MailDirectory,
    string UpstreamAddress,
    string ProxyAddress,
    IReadOnlyList<SessionSummary> Sessions,
    IReadOnlyList<LabCheck> Checks)
{
    public bool Passed => Checks.All(c => c.Passed);

    /// <summary>The session relayed through the simulated firewall, if it ended in time.</summary>
    public SessionSummary? FirewallSession { get; init; }

    /// <summary>The NSS key log of the intercepted sessions (both legs).</summary>
    public required string KeyLogPath { get; init; }

    /// <summary>The HTML report of every session of the run.</summary>
    public required string ReportPath { get; init; }
}

/// <summary>
/// The default lab: a lab upstream offering STARTTLS, SmtpLens intercepting it in front, and beside it a second
/// listener playing an ESMTP-inspection firewall that strips STARTTLS. Sample sessions go through both; the run
/// leaves transcripts, a key log and the HTML report.
/// </summary>
internal sealed class LabDemo : IAsyncDisposable
{
    /// <summary>Lab credentials; the checks prove they never reach a transcript.</summary>
    public const string LabUser = "lab-user";
    public const string LabPassword = "lab-secret-password";

    /// <summary>What the simulated firewall does: an ESMTP-inspection box removing STARTTLS from the EHLO reply.</summary>
    public const string FirewallRule = "strip-keywords=STARTTLS";

    private readonly LabSmtpServer _upstream;
    private readonly ProxyListener _proxy;
    private readonly ProxyListener _firewall;
    private readonly List<SessionSummary> _sessions = [];
    private readonly Lock _gate = new();
    private readonly CertificateAuthority _upstreamCa;
    private readonly CertificateAuthority _interceptionCa;
    private readonly NssKeyLog _keyLog;
    private readonly TimeProvider _time;

    /// <param name="pcap">Directory for each session's pcapng capture (<c>lab --pcap</c>), or null.</param>
    public LabDemo(string outputDirectory, TranscriptOptions transcripts, ILogger log, TimeProvider time, string? pcap = null)
    {
        _time = time;
        TranscriptDirectory = Path.Combine(outputDirectory, "transcripts");
        MailDirectory = Path.Combine(outputDirectory, "maildir");
        KeyLogPath = Path.Combine(outputDirectory, "tls-keys.log");
        ReportPath = Path.Combine(outputDirectory, "report.html");
        _upstreamCa = CertificateAuthority.CreateEphemeral(time, "SmtpLens Lab Upstream CA");
        _interceptionCa = CertificateAuthority.CreateEphemeral(time, "SmtpLens Lab Interception CA");
        var now = time.GetUtcNow();
        var upstreamCertificate = _upstreamCa.ToX509WithKey(_upstreamCa.Issue(UpstreamName, [UpstreamName, "mx.lab.smtplens.test"], now.AddDays(-1), now.AddDays(90)));
        PrivateFiles.CreateDirectory(outputDirectory);
        _keyLog = new NssKeyLog(KeyLogPath);

        _upstream = new LabSmtpServer(new LabServerOptions { MailDirectory = MailDirectory, Hostname = UpstreamName, TlsCertificate = upstreamCertificate });
        var tls = new TlsInterceptionOptions { Authority = _interceptionCa, UpstreamTrustAnchors = [_upstreamCa.Certificate], KeyLog = _keyLog };
        var upstream = new HostPort("127.0.0.1", _upstream.EndPoint.Port);
        _proxy = Listen(new ListenerSettings("lab", new HostPort("127.0.0.1", 0), upstream), tls);

        // The firewall is SmtpLens itself with a labelled alteration, as --simulate does: the sender never sees STARTTLS.
        var firewall = SimulationRules.Parse([FirewallRule]);
        _firewall = Listen(new ListenerSettings("firewall", new HostPort("127.0.0.1", 0), upstream) { Simulation = firewall }, firewall.ApplyTo(tls));

        ProxyListener Listen(ListenerSettings listener, TlsInterceptionOptions options)
        {
            var context = new SessionContext(listener, new RelayOptions(), transcripts with { Directory = TranscriptDirectory }, time, log) { Tls = options, PcapDirectory = pcap };
            var proxy = new ProxyListener(context, new SessionIdGenerator(time));
            proxy.SessionCompleted += s =>
            {
                lock (_gate)
                {
                    _sessions.Add(s);
                }
            };
            return proxy;
        }
    }

    public const string UpstreamName = "lab-upstream.smtplens.test";

    public string TranscriptDirectory { get; }

    public string MailDirectory { get; }

    public string KeyLogPath { get; }

    public string ReportPath { get; }

    public LabSmtpServer Upstream => _upstream;

    public ProxyListener Proxy => _proxy;

    public ProxyListener Firewall => _firewall;

    public void Start()
    {
        _upstream.Start();
        _proxy.Start();
        _firewall.Start();
    }

    /// <summary>Sends the sample sessions through the proxy and checks what arrived upstream.</summary>
    public async Task<LabRunResult> RunSamplesAsync(CancellationToken cancellationToken)
    {
        var target = _proxy.LocalEndPoint;
        var checks = new List<LabCheck>();
        var plain = Sample("A first message through SmtpLens", ".a line that starts with a dot (dot-stuffed on the wire)\r\n..and one with two\r\nGrüße aus dem Labor: 8-bit UTF-8 text.\r\n");
        var pipelinedA = Sample("Pipelined message 1 of 2", "MAIL, RCPT and DATA went out as one group (RFC 2920).\r\n");
        var pipelinedB = Sample("Pipelined message 2 of 2", "Replies are matched to commands in order.\r\n");
        var binary = BinarySample();
        var stripped = Sample("Through the firewall", "The sender would have used TLS, but the firewall hid STARTTLS from it.\r\n");

        var runs = new (string Name, LabMessage[] Messages, LabClientOptions Options)[]
        {
            ("STARTTLS, DATA with AUTH PLAIN (the password is redacted in transcripts)", [plain], new LabClientOptions { AuthPlain = (LabUser, LabPassword), StartTls = true, TlsServerName = UpstreamName }),
            ("STARTTLS, PIPELINING, two messages in one session", [pipelinedA, pipelinedB], new LabClientOptions { Pipelining = true, StartTls = true, TlsServerName = UpstreamName }),
            ("STARTTLS, BDAT/CHUNKING with binary content in 64 KiB chunks", [binary], new LabClientOptions { Pipelining = true, StartTls = true, TlsServerName = UpstreamName }),
        };

        foreach (var (name, messages, options) in runs)
        {
            var result = await LabSmtpClient.SendAsync(target, messages, options, cancellationToken);
            foreach (var fate in result.Fates)
            {
                checks.Add(new LabCheck($"{name}: delivered", fate.Delivered, fate.FinalReply?.RawLines[^1] ?? fate.Detail + (result.Error is null ? string.Empty : $" ({result.Error})")));
            }

            var seen = result.ServerCertificate;
            var forged = seen is not null && seen.Subject == $"CN={UpstreamName}" && seen.Issuer == _interceptionCa.Certificate.Subject;
            checks.Add(new LabCheck($"{name}: client saw a certificate mirroring the upstream's", forged, seen is null ? "no TLS" : $"subject {seen.Subject}, issuer {seen.Issuer}"));
        }

        // A sender that uses TLS when offered, as most MTAs do, through the box that hides the offer.
        var throughFirewall = await LabSmtpClient.SendAsync(_firewall.LocalEndPoint, [stripped], new LabClientOptions { OpportunisticTls = true, TlsServerName = UpstreamName }, cancellationToken);
        var strippedFate = throughFirewall.Fates[0];
        checks.Add(new LabCheck("through the simulated firewall: delivered", strippedFate.Delivered, strippedFate.FinalReply?.RawLines[^1] ?? strippedFate.Detail));
        checks.Add(new LabCheck("through the simulated firewall: sent in plaintext", throughFirewall.TlsProtocol is null, throughFirewall.TlsProtocol ?? "no TLS: STARTTLS was never offered to the sender"));

        await WaitForSessionsAsync(runs.Length + 1, TimeSpan.FromSeconds(10), cancellationToken);
        SessionSummary[] sessions;
        lock (_gate)
        {
            sessions = [.. _sessions.OrderBy(s => s.SessionId, StringComparer.Ordinal)];
        }

        var intercepted = sessions.FirstOrDefault(s => s.Listener == "lab");
        var legs = intercepted?.TlsLegs ?? [];
        var bothLegs = legs.Any(l => l.Leg == "client" && Recorded(l)) && legs.Any(l => l.Leg == "upstream" && Recorded(l));
        checks.Add(new LabCheck("STARTTLS intercepted: both legs' handshakes recorded (version, suite, certificates)", bothLegs, legs.Count == 0 ? "no TLS legs recorded" : string.Join("; ", legs.Select(l => l.Summary()))));

        var firewallSession = sessions.FirstOrDefault(s => s.Listener == "firewall");
        var caught = firewallSession?.Findings.Where(f => f.Code == FindingCodes.StartTlsNotOffered).ToList() ?? [];
        checks.Add(new LabCheck($"stripped STARTTLS caught as {FindingCodes.StartTlsNotOffered}", caught.Count > 0, firewallSession is null ? "the firewall session did not end" : caught.Count > 0 ? caught[0].Title : "raised: " + string.Join(", ", firewallSession.Findings.Select(f => f.Code))));

        var received = _upstream.Received;
        foreach (var message in new[] { plain, pipelinedA, pipelinedB, binary, stripped })
        {
            var sha = Convert.ToHexStringLower(SHA256.HashData(message.Content));
            var match = received.Any(r => r.Sha256 == sha);
            checks.Add(new LabCheck($"upstream received {message.Content.Length} bytes with sha256 {sha[..16]}...", match, match ? "identical to what the client sent" : "no message with that digest arrived"));
        }

        checks.AddRange(CheckTranscripts());
        var secrets = (await File.ReadAllLinesAsync(KeyLogPath, cancellationToken)).Count(l => l.Length > 0 && !l.StartsWith('#'));
        checks.Add(new LabCheck("key log written (both legs of the intercepted sessions)", secrets >= 2 * runs.Length, $"{secrets} secret(s)"));
        checks.Add(WriteReport());

        return new LabRunResult(TranscriptDirectory, MailDirectory, _upstream.EndPoint.ToString(), target.ToString(), sessions, checks)
        {
            FirewallSession = firewallSession,
            KeyLogPath = KeyLogPath,
            ReportPath = ReportPath,
        };
    }

    private static bool Recorded(TlsLegRecord leg) =>
        leg.Completed && leg.Version is not null && leg.CipherSuite is not null && leg.ServerCertificates.Count > 0;

    private LabCheck WriteReport()
    {
        try
        {
            var report = IncidentReport.Load([TranscriptDirectory]);
            report.WriteAtomically(ReportPath, _time.GetUtcNow());
            return new LabCheck("HTML report written", true, $"{report.Count} session(s)");
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return new LabCheck("HTML report written", false, e.Message);
        }
    }

    private IEnumerable<LabCheck> CheckTranscripts()
    {
        var files = Directory.Exists(TranscriptDirectory) ? Directory.GetFiles(TranscriptDirectory) : [];
        foreach (var ext in new[] { ".log", ".jsonl", ".csv" })
        {
            var count = files.Count(f => f.EndsWith(ext, StringComparison.Ordinal));
            yield return new LabCheck($"{ext} transcripts written", count >= 3, $"{count} file(s)");
        }

        var secret = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{LabUser}\0{LabPassword}"));
        var leaked = files.Where(f => File.ReadAllText(f).Contains(secret, StringComparison.Ordinal) || File.ReadAllText(f).Contains(LabPassword, StringComparison.Ordinal)).ToList();
        yield return new LabCheck("AUTH secret absent from every transcript", leaked.Count == 0, leaked.Count == 0 ? "redacted" : $"found in {string.Join(", ", leaked)}");
    }

    private async Task WaitForSessionsAsync(int count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_gate)
            {
                if (_sessions.Count >= count)
                {
                    return;
                }
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private static LabMessage Sample(string subject, string body)
    {
        var text = $"From: Lab Sender <sender@lab.smtplens.test>\r\nTo: Lab Recipient <rcpt@lab.smtplens.test>\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@lab.smtplens.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}";
        return new LabMessage("sender@lab.smtplens.test", ["rcpt@lab.smtplens.test"], Encoding.UTF8.GetBytes(text));
    }

    private static LabMessage BinarySample()
    {
        var header = Encoding.ASCII.GetBytes("From: sender@lab.smtplens.test\r\nTo: rcpt@lab.smtplens.test\r\nSubject: Binary content over BDAT\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n");
        var body = new byte[200 * 1024];
        new Random(3030).NextBytes(body);
        "\r\n.\r\n"u8.CopyTo(body.AsSpan(1000));
        return new LabMessage("sender@lab.smtplens.test", ["rcpt@lab.smtplens.test"], [.. header, .. body]) { BdatChunkSize = 64 * 1024 };
    }

    public async ValueTask DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _firewall.DisposeAsync();
        await _upstream.DisposeAsync();
        _keyLog.Dispose();
        _upstreamCa.Dispose();
        _interceptionCa.Dispose();
    }
}
