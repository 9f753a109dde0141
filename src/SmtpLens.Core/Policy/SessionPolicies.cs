using SmtpLens.Findings;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Policy;

/// <summary>Judges one relayed session against every sending policy once the upstream leg is known, and records one
/// <c>tls-policy</c> event per policy. It follows the session's events (greeting, plaintext EHLO reply) like the
/// finding engine does; lookups run when the session ends, after the last byte was relayed, never in its path.
/// Each verdict is also a <c>"type":"tls-policy"</c> line of the <c>--findings</c> file.</summary>
internal sealed class SessionPolicies
{
    private readonly Lock _gate = new();
    private readonly SessionTranscript _transcript;
    private readonly PolicySettings _settings;
    private readonly PolicyLookups? _lookups;
    private readonly TimeProvider _time;
    private readonly FindingsLog? _log;
    private readonly DialogueView _view;
    private string? _upstreamAddress;

    public SessionPolicies(SessionTranscript transcript, PolicySettings settings, PolicyLookups? lookups, TimeProvider time, FindingsLog? log = null)
    {
        _log = log;
        _transcript = transcript;
        _settings = settings;
        _lookups = settings.Lookups ? lookups : null;
        _time = time;
        _view = new DialogueView(transcript.Info.SessionId);
        transcript.EventRecorded += OnEventRecorded;
    }

    public IReadOnlyList<PolicyVerdict> Verdicts { get; private set; } = [];

    private void OnEventRecorded(TranscriptEvent e)
    {
        lock (_gate)
        {
            _view.Advance(e);
            if (e.Kind == EventKinds.UpstreamConnect && EventFields.Text(e.Data, "upstream") is { } remote)
            {
                _upstreamAddress = remote;
            }
        }
    }

    /// <summary>Evaluates and records the verdicts; nothing when the upstream never greeted (nothing to judge).</summary>
    /// <param name="revocation">What --check-revocation found for the upstream's chain (Exchange's CRL rule); null when it did not run.</param>
    public async Task<IReadOnlyList<PolicyVerdict>> CompleteAsync(string upstreamHost, bool implicitTls, TlsLegRecord? upstreamLeg, CancellationToken cancellationToken, RevocationObservation? revocation = null)
    {
        UpstreamObservation observation;
        lock (_gate)
        {
            if (_view.Greeting is null && upstreamLeg is null)
            {
                return [];
            }

            var announced = new List<(string, string)>();
            if (CertificateDetector.BannerName(_view) is { } banner)
            {
                announced.Add((banner, "banner"));
            }

            var ehlo = _view.PlaintextEhlo ?? _view.LatestEhlo;
            if (EventFields.Text(ehlo?.Data, "domain") is { } domain && CertificateDetector.IsDnsName(domain))
            {
                announced.Add((domain, "EHLO reply"));
            }

            var offered = EventFields.Maps(_view.PlaintextEhlo?.Data, "keywords").Any(k => string.Equals(EventFields.Text(k, "keyword"), "STARTTLS", StringComparison.OrdinalIgnoreCase));
            var mxHost = _settings.MxHost ?? upstreamHost;
            observation = UpstreamObservation.From(upstreamLeg, mxHost, _settings.NextHop ?? mxHost, AddressOf(_upstreamAddress), implicitTls, offered, announced) with { Revocation = revocation };
        }

        DaneLookup? dane = null;
        MtaStsLookup? sts = null;
        if (_lookups is not null)
        {
            var daneTask = _lookups.DaneAsync(observation.MxHost, 25, cancellationToken);
            var stsTask = _lookups.MtaStsAsync(observation.NextHop, cancellationToken);
            dane = await daneTask;
            sts = await stsTask;
        }

        var now = _time.GetUtcNow();
        var verdicts = PolicyEvaluator.Evaluate(observation, _settings, dane, sts, now);
        foreach (var verdict in verdicts)
        {
            // The verdict's line first: recording it may raise TLS_POLICY_WOULD_FAIL, whose line should follow it.
            _log?.Write(verdict.ToLogRecord(_transcript.Info.SessionId, now));
            verdict.Record(_transcript);
        }

        Verdicts = verdicts;
        return verdicts;
    }

    /// <summary>"192.0.2.1:25" or "[2001:db8::1]:25" to the bare address Postfix shows in brackets.</summary>
    private static string? AddressOf(string? endPoint) =>
        endPoint is null ? null : System.Net.IPEndPoint.TryParse(endPoint, out var ep) ? ep.Address.ToString() : endPoint;
}
