using System.Buffers;
using System.Text;
using SmtpLens.StateMachine;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Probe;

/// <summary>One session's events as the probe records them: SMTP lines through the real dialogue tracker,
/// TLS legs through the interceptor's own recording, then the disconnect.</summary>
internal sealed class ProbeEvents : ITranscriptRecorder
{
    public static readonly DateTimeOffset Start = new(2026, 11, 22, 6, 0, 0, TimeSpan.Zero);
    private readonly List<TranscriptEvent> _events = [];
    private readonly SmtpDialogue _dialogue;

    public ProbeEvents(string session = "20261122T060000000Z-000001-test")
    {
        Session = session;
        _dialogue = new SmtpDialogue(this, new DialogueOptions());
    }

    public string Session { get; }

    public IReadOnlyList<TranscriptEvent> Events => _events;

    public void Record(Direction direction, string kind, string text, IReadOnlyDictionary<string, object?>? data = null) =>
        _events.Add(new TranscriptEvent(Session, _events.Count + 1, Start.AddMilliseconds(10 * (_events.Count + 1)), direction, kind, text, data));

    public ProbeEvents Server(params string[] lines)
    {
        foreach (var line in lines)
        {
            var bytes = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(line + "\r\n"));
            _dialogue.ParseServer(ref bytes, isCompleted: false);
        }

        return this;
    }

    public ProbeEvents Client(string line)
    {
        var bytes = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(line + "\r\n"));
        _dialogue.ParseClient(ref bytes, isCompleted: false);
        return this;
    }

    /// <summary>A completed upstream handshake, recorded as the probe and the interceptor record it.</summary>
    public ProbeEvents Tls(CertificateSummary? certificate = null, int suite = 0xC030)
    {
        var leg = new TlsLegRecord("upstream", "client") { Version = 0x0303, CipherSuite = suite, Completed = true, ExtendedMasterSecret = true, Duration = TimeSpan.FromMilliseconds(12) };
        if (certificate is not null)
        {
            leg.ServerCertificates.Add(certificate);
        }

        TlsInterceptor.RecordLeg(this, leg);
        _dialogue.ResumeAfterTls();
        return this;
    }

    public ProbeEvents Disconnect(string end = "Quit")
    {
        Record(Direction.Proxy, EventKinds.Disconnect, $"session ended: {end}", new Dictionary<string, object?> { ["end"] = end });
        return this;
    }

    /// <summary>A Postfix-style greeting and EHLO reply with the given keyword lines.</summary>
    public ProbeEvents Ehlo(string host, params string[] keywords)
    {
        Client("EHLO probe.client.test");
        var lines = new List<string> { $"250-{host}" };
        for (var i = 0; i < keywords.Length; i++)
        {
            lines.Add((i == keywords.Length - 1 ? "250 " : "250-") + keywords[i]);
        }

        if (keywords.Length == 0)
        {
            lines[0] = $"250 {host}";
        }

        return Server([.. lines]);
    }

    public static CertificateSummary Certificate(string cn, params string[] dnsNames) =>
        new($"CN={cn}", cn, [.. dnsNames.Select(n => "DNS:" + n)], "CN=Test CA", "0A", Start.AddDays(-30), Start.AddDays(60), "RSA", 2048, "sha256RSA", new string('A', 64));
}
