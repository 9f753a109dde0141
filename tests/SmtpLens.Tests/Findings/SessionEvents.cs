using System.Globalization;
using SmtpLens.Findings;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Findings;

/// <summary>Builds one session's transcript events the way the relay records them: SMTP parts are replayed
/// through the real <see cref="SmtpDialogue"/>, TLS parts are real <see cref="TlsLegRecord"/> data in the order
/// the interceptor records it, and the session ends with a disconnect event.</summary>
internal sealed class SessionEvents : ITranscriptRecorder
{
    public const string SessionId = "20261122T050000000Z-000001-test";

    /// <summary>Session time; certificates in tests are valid or not relative to it.</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 22, 5, 0, 0, TimeSpan.Zero);

    private readonly List<TranscriptEvent> _events = [];

    public IReadOnlyList<TranscriptEvent> Events => _events;

    public IReadOnlyList<Finding> Findings => FindingEngine.Analyze(_events);

    public void Record(Direction direction, string kind, string text, IReadOnlyDictionary<string, object?>? data = null) =>
        _events.Add(new TranscriptEvent(SessionId, _events.Count + 1, Start.AddMilliseconds(10 * (_events.Count + 1)), direction, kind, text, data));

    /// <summary>Replays a dialogue script (Support/DialogueScript format) through a fresh dialogue tracker.</summary>
    /// <param name="afterTls">The script continues a session inside TLS: no greeting is expected (RFC 3207 4.2).</param>
    public SessionEvents Smtp(string script, bool afterTls = false, FeedMode mode = FeedMode.Whole)
    {
        var dialogue = new SmtpDialogue(this, new DialogueOptions());
        if (afterTls)
        {
            dialogue.ResumeAfterTls();
        }

        DialogueReplayer.Feed(dialogue, DialogueScript.Parse("inline", script), mode);
        return this;
    }

    public SessionEvents Event(Direction direction, string kind, string text, IReadOnlyDictionary<string, object?>? data = null)
    {
        Record(direction, kind, text, data);
        return this;
    }

    /// <summary>Both legs of an intercepted handshake, recorded in the interceptor's order (upstream leg first).</summary>
    public SessionEvents Intercepted(TlsLegRecord upstream, TlsLegRecord? client = null)
    {
        if (client?.ClientHello is { } offered)
        {
            Record(Direction.Proxy, EventKinds.TlsClientHello, $"client offered: max {TlsNames.Version(offered.MaxVersion)}", offered.ToData());
        }

        Leg(upstream, "upstream leg upstream certificate");
        if (client is not null)
        {
            Leg(client, "client leg SmtpLens certificate");
        }

        return this;
    }

    /// <summary>One leg's records: certificates, validation (upstream), then the leg summary (tls or tls-failed).</summary>
    public SessionEvents Leg(TlsLegRecord leg, string certificateText = "upstream leg upstream certificate")
    {
        for (var i = 0; i < leg.ServerCertificates.Count; i++)
        {
            Record(Direction.Proxy, EventKinds.TlsCertificate, $"{certificateText} [{i}]: {leg.ServerCertificates[i].Describe()}", leg.ServerCertificates[i].ToData());
        }

        if (leg.ChainStatus is not null)
        {
            Record(Direction.Proxy, EventKinds.TlsHandshake, $"upstream certificate validation (recorded, not enforced unless --verify-upstream): chain {(leg.ChainTrusted == true ? "trusted" : "NOT trusted")} ({leg.ChainStatus})");
        }

        Record(Direction.Proxy, leg.Completed ? EventKinds.TlsHandshake : EventKinds.TlsFailed, leg.Summary(), leg.ToData());
        return this;
    }

    public SessionEvents Disconnect(string end = "Quit")
    {
        Record(Direction.Proxy, EventKinds.Disconnect, $"session ended: {end}", new Dictionary<string, object?> { ["end"] = end });
        return this;
    }

    /// <summary>A certificate as CertificateSummary records it (the fields detectors read).</summary>
    public static CertificateSummary Certificate(string cn, IEnumerable<string> dnsNames, string issuer = "CN=R11, O=Let's Encrypt, C=US", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        new($"CN={cn}", cn, [.. dnsNames.Select(n => "DNS:" + n)], issuer, "0A", notBefore ?? Start.AddDays(-30), notAfter ?? Start.AddDays(60), "RSA", 2048, "sha256RSA", new string('A', 64));

    /// <summary>A completed leg as the interceptor fills it in.</summary>
    public static TlsLegRecord CompletedLeg(string leg, int version = 0x0303, int suite = 0xC030, CertificateSummary? certificate = null, bool? trusted = true, string? nameChecked = null, ClientHello? hello = null)
    {
        var record = new TlsLegRecord(leg, leg == "client" ? "server" : "client")
        {
            Version = version,
            CipherSuite = suite,
            ExtendedMasterSecret = true,
            SecureRenegotiation = true,
            Duration = TimeSpan.FromMilliseconds(20),
            Completed = true,
            ClientHello = hello,
        };
        if (certificate is not null)
        {
            record.ServerCertificates.Add(certificate);
        }

        if (leg != "client")
        {
            record.ChainTrusted = trusted;
            record.ChainStatus = trusted == true ? "trusted by the system store" : trusted == false ? "UntrustedRoot: self signed certificate" : null;
            if (nameChecked is not null && certificate is not null)
            {
                record.NameChecked = nameChecked;
                record.NameMatches = certificate.Matches(nameChecked);
            }
        }

        return record;
    }

    /// <summary>A real ClientHello from BouncyCastle under the given policy.</summary>
    public static ClientHello Hello(TlsPolicy policy) => ClientHello.Parse(Tls.TlsHelloVectors.Message(Tls.TlsHelloVectors.BouncyCastleClientHello(policy)));

    public static string Codes(IEnumerable<Finding> findings) =>
        string.Join(", ", findings.Select(f => $"{f.Code}/{Finding.SeverityName(f.Severity)}"));

    public override string ToString() => string.Join("\n", _events.Select(e => string.Create(CultureInfo.InvariantCulture, $"#{e.Seq} {e.Kind} {e.Text}")));
}
