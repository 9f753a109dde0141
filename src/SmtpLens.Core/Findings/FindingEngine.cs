using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>Runs every detector over one session's events, as they arrive (live) or from a saved transcript.</summary>
/// <remarks>Not thread-safe: feed it from one thread or under a lock, in sequence order. The live relay feeds
/// it from <see cref="SessionTranscript.EventRecorded"/>, which is already serialized.</remarks>
internal sealed class FindingEngine
{
    /// <summary>The transcript event kind that records a finding (data: <see cref="Finding.ToData"/>).</summary>
    public const string EventKind = "finding";

    private readonly IReadOnlyList<IFindingDetector> _detectors;
    private readonly List<Finding> _findings = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private DialogueView? _view;
    private bool _completed;
    private DateTimeOffset _lastTimestamp;

    public FindingEngine()
        : this(FindingDetectors.Create())
    {
    }

    public FindingEngine(IEnumerable<IFindingDetector> detectors) => _detectors = [.. detectors];

    /// <summary>Every finding so far, in the order raised.</summary>
    public IReadOnlyList<Finding> Findings => _findings;

    public bool Completed => _completed;

    /// <summary>Takes in one event; returns the findings it raised (often none). A disconnect event also
    /// completes the session, so end-of-session findings come back with it.</summary>
    public IReadOnlyList<Finding> Observe(TranscriptEvent e)
    {
        // Revocation results arrive when the CRL or OCSP answer does, which may be after the session ended.
        if ((_completed && e.Kind != Tls.Revocation.CertificateRevocation.EventKind) || e.Kind is EventKind or EventKinds.Summary)
        {
            return [];
        }

        var view = _view ??= new DialogueView(e.Session);
        _lastTimestamp = Millisecond(e.Timestamp);
        view.Advance(e);
        var found = new List<Finding>();
        foreach (var detector in _detectors)
        {
            detector.Observe(view, e, found);
        }

        if (e.Kind == EventKinds.Disconnect)
        {
            CompleteInto(found);
        }

        return Accept(found, _lastTimestamp);
    }

    /// <summary>Ends the session (idempotent) and returns the findings only the end could decide.</summary>
    public IReadOnlyList<Finding> Complete()
    {
        if (_completed)
        {
            return [];
        }

        var found = new List<Finding>();
        CompleteInto(found);
        return Accept(found, _lastTimestamp);
    }

    /// <summary>The findings for saved events of one or more sessions; each session is analyzed on its own,
    /// in sequence order, exactly as the live relay would have.</summary>
    public static IReadOnlyList<Finding> Analyze(IEnumerable<TranscriptEvent> events)
    {
        var result = new List<Finding>();
        foreach (var session in events.GroupBy(e => e.Session, StringComparer.Ordinal))
        {
            var engine = new FindingEngine();
            foreach (var e in session.OrderBy(e => e.Seq))
            {
                engine.Observe(e);
            }

            engine.Complete();
            result.AddRange(engine.Findings);
        }

        return result;
    }

    /// <summary>Transcripts keep milliseconds; truncating live times the same way keeps live and saved findings identical.</summary>
    public static DateTimeOffset Millisecond(DateTimeOffset time) => new(time.Ticks - (time.Ticks % TimeSpan.TicksPerMillisecond), time.Offset);

    private void CompleteInto(List<Finding> found)
    {
        _completed = true;
        var view = _view ??= new DialogueView(string.Empty);
        foreach (var detector in _detectors)
        {
            detector.Complete(view, found);
        }
    }

    /// <summary>One finding per code, leg and title: a repeated EHLO must not repeat its findings.</summary>
    private List<Finding> Accept(List<Finding> found, DateTimeOffset at)
    {
        var accepted = new List<Finding>(found.Count);
        foreach (var f in found)
        {
            if (_seen.Add($"{f.Code}|{f.Leg}|{f.Title}"))
            {
                var finding = f with { Session = _view?.Session ?? string.Empty, At = at };
                if (_view?.Simulated == true)
                {
                    // A demonstration must not pass for an observation, in findings as in the transcript.
                    finding = finding with { Title = "[SIMULATED] " + finding.Title, Facts = new Dictionary<string, object?>(finding.Facts) { ["simulated"] = true } };
                }

                _findings.Add(finding);
                accepted.Add(finding);
            }
        }

        return accepted;
    }
}
