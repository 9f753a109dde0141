using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using SmtpLens.Configuration;
using SmtpLens.Net;
using SmtpLens.Relay;
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
}

/// <summary>The default lab: a lab upstream, the proxy in front of it, and a few sample sessions through it.</summary>
internal sealed class LabDemo : IAsyncDisposable
{
    /// <summary>Lab credentials; the checks prove they never reach a transcript.</summary>
    public const string LabUser = "lab-user";
    public const string LabPassword = "lab-secret-password";

    private readonly LabSmtpServer _upstream;
    private readonly ProxyListener _proxy;
    private readonly List<SessionSummary> _sessions = [];
    private readonly Lock _gate = new();
    private readonly CertificateAuthority? _upstreamCa;
    private readonly CertificateAuthority? _interceptionCa;

    /// <param name="tls">Upstream offers STARTTLS with a lab certificate; the proxy intercepts with its own lab CA.</param>
    /// <param name="pcap">Directory for each session's pcapng capture (<c>lab --pcap</c>), or null.</param>
    public LabDemo(string outputDirectory, TranscriptOptions transcripts, ILogger log, TimeProvider time, bool tls = false, string? pcap = null)
    {
        TranscriptDirectory = Path.Combine(outputDirectory, "transcripts");
        MailDirectory = Path.Combine(outputDirectory, "maildir");
        Tls = tls;
        System.Security.Cryptography.X509Certificates.X509Certificate2? upstreamCertificate = null;
        if (tls)
        {
            _upstreamCa = CertificateAuthority.CreateEphemeral(time, "SmtpLens Lab Upstream CA");
            _interceptionCa = CertificateAuthority.CreateEphemeral(time, "SmtpLens Lab Interception CA");
            var now = time.GetUtcNow();
            upstreamCertificate = _upstreamCa.ToX509WithKey(_upstreamCa.Issue(UpstreamName, [UpstreamName, "mx.lab.smtplens.test"], now.AddDays(-1), now.AddDays(90)));
        }

        _upstream = new LabSmtpServer(new LabServerOptions { MailDirectory = MailDirectory, Hostname = UpstreamName, TlsCertificate = upstreamCertificate });
        var listener = new ListenerSettings("lab", new HostPort("127.0.0.1", 0), new HostPort("127.0.0.1", _upstream.EndPoint.Port));
        var context = new SessionContext(listener, new RelayOptions(), transcripts with { Directory = TranscriptDirectory }, time, log)
        {
            Tls = tls ? new TlsInterceptionOptions { Authority = _interceptionCa, UpstreamTrustAnchors = [_upstreamCa!.Certificate] } : null,
            PcapDirectory = pcap,
        };
        _proxy = new ProxyListener(context, new SessionIdGenerator(time));
        _proxy.SessionCompleted += s =>
        {
            lock (_gate)
            {
                _sessions.Add(s);
            }
        };
    }

    public const string UpstreamName = "lab-upstream.smtplens.test";

    public bool Tls { get; }

    public string TranscriptDirectory { get; }

    public string MailDirectory { get; }

    public LabSmtpServer Upstream => _upstream;

    public ProxyListener Proxy => _proxy;

    public void Start()
    {
        _upstream.Start();
        _proxy.Start();
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

        var prefix = Tls ? "STARTTLS, " : string.Empty;
        var runs = new (string Name, LabMessage[] Messages, LabClientOptions Options)[]
        {
            (prefix + "DATA with AUTH PLAIN (the password is redacted in transcripts)", [plain], new LabClientOptions { AuthPlain = (LabUser, LabPassword), StartTls = Tls, TlsServerName = UpstreamName }),
            (prefix + "PIPELINING, two messages in one session", [pipelinedA, pipelinedB], new LabClientOptions { Pipelining = true, StartTls = Tls, TlsServerName = UpstreamName }),
            (prefix + "BDAT/CHUNKING with binary content in 64 KiB chunks", [binary], new LabClientOptions { Pipelining = true, StartTls = Tls, TlsServerName = UpstreamName }),
        };

        foreach (var (name, messages, options) in runs)
        {
            var result = await LabSmtpClient.SendAsync(target, messages, options, cancellationToken);
            foreach (var fate in result.Fates)
            {
                checks.Add(new LabCheck($"{name}: delivered", fate.Delivered, fate.FinalReply?.RawLines[^1] ?? fate.Detail + (result.Error is null ? string.Empty : $" ({result.Error})")));
            }

            if (Tls && result.ServerCertificate is { } seen)
            {
                var forged = seen.Subject == $"CN={UpstreamName}" && seen.Issuer == _interceptionCa!.Certificate.Subject;
                checks.Add(new LabCheck($"{name}: client saw a certificate mirroring the upstream's", forged, $"subject {seen.Subject}, issuer {seen.Issuer}"));
            }
        }

        await WaitForSessionsAsync(runs.Length, TimeSpan.FromSeconds(10), cancellationToken);
        var received = _upstream.Received;
        foreach (var message in new[] { plain, pipelinedA, pipelinedB, binary })
        {
            var sha = Convert.ToHexStringLower(SHA256.HashData(message.Content));
            var match = received.Any(r => r.Sha256 == sha);
            checks.Add(new LabCheck($"upstream received {message.Content.Length} bytes with sha256 {sha[..16]}...", match, match ? "identical to what the client sent" : "no message with that digest arrived"));
        }

        checks.AddRange(CheckTranscripts());
        SessionSummary[] sessions;
        lock (_gate)
        {
            sessions = [.. _sessions.OrderBy(s => s.SessionId, StringComparer.Ordinal)];
        }

        return new LabRunResult(TranscriptDirectory, MailDirectory, _upstream.EndPoint.ToString(), target.ToString(), sessions, checks);
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
        await _upstream.DisposeAsync();
        _upstreamCa?.Dispose();
        _interceptionCa?.Dispose();
    }
}
