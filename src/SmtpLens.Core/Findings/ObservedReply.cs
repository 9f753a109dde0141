using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>A complete upstream reply matched to the command it answers, as reconstructed from reply events.</summary>
/// <param name="Verb">The command's verb (upper case), or null for the greeting.</param>
/// <param name="Command">The command event, or null for the greeting and the end-of-data reply.</param>
/// <param name="EndOfData">This is the reply to the message content after DATA's 354.</param>
internal sealed record ObservedReply(string? Verb, TranscriptEvent? Command, bool EndOfData, int Code, IReadOnlyList<TranscriptEvent> Lines)
{
    public bool IsGreeting => Verb is null && !EndOfData;

    /// <summary>Every line's text (code included) joined, for matching phrases that wrap across lines.</summary>
    public string Text => string.Join(" ", Lines.Select(l => l.Text));

    /// <summary>Evidence: the command (when there is one) and every reply line.</summary>
    public IReadOnlyList<FindingEvidence> Evidence => [.. (Command is null ? [] : new[] { Command }).Concat(Lines).Select(FindingEvidence.Of)];
}
