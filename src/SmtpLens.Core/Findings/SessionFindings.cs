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
                return [.. _engine.Findings];
            }
        }
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
