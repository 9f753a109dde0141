using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>One detector for one session: sees each event as it is recorded and may conclude at once, or at
/// the end of the session. It reads events only, never sockets, so it runs the same live and on a saved transcript.</summary>
internal interface IFindingDetector
{
    /// <summary>Called for every event except findings, after <paramref name="view"/> has taken it in.</summary>
    void Observe(DialogueView view, TranscriptEvent e, List<Finding> found);

    /// <summary>Called once when the session has ended (its disconnect event, or the end of a saved transcript).</summary>
    void Complete(DialogueView view, List<Finding> found);
}
