using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>Runs the finding engine live on one session's transcript: each finding is recorded as a
/// <c>finding</c> event right after the event that raised it, and copied to the <c>--findings</c> file.</summary>
/// <remarks>It listens to <see cref="SessionTranscript.EventRecorded"/>, which delivers events one at a time in
/// sequence order, so the engine sees exactly the stream a saved <c>.jsonl</c> holds, and <c>analyze</c> agrees.</remarks>
internal sealed class SessionFindings
{
    private readonly Lock _gate = new();
    private readonly FindingEngine _engine = new();
    private readonly List<Finding> _added = [];
    private readonly ITranscriptRecorder _transcript;
    private readonly FindingsLog? _log;

    public SessionFindings(SessionTranscript transcript, FindingsLog? log)
    {
        _transcript = transcript;
        _log = log;
        transcript.EventRecorded += OnEventRecorded;
    }

    /// <summary>The findings so far; complete once the disconnect event has been recorded.</summary>
    public IReadOnlyList<Finding> Findings
    {
        get
        {
            lock (_gate)
            {
                return [.. _engine.Findings, .. _added];
            }
        }
    }

    /// <summary>A finding decided outside the session's own events (across sessions: CONNECTOR_WILDCARD_OVERLAP),
    /// recorded like the engine's: a <c>finding</c> event and a line in the <c>--findings</c> file.</summary>
    public void Add(Finding finding)
    {
        lock (_gate)
        {
            _added.Add(finding);
        }

        _transcript.Record(Direction.Proxy, FindingEngine.EventKind, finding.Headline, finding.ToData());
        _log?.Write(finding);
    }

    private void OnEventRecorded(TranscriptEvent e)
    {
        IReadOnlyList<Finding> found;
        lock (_gate)
        {
            found = _engine.Observe(e);
        }

        foreach (var finding in found)
        {
            _transcript.Record(Direction.Proxy, FindingEngine.EventKind, finding.Headline, finding.ToData());
            _log?.Write(finding);
        }
    }
}
