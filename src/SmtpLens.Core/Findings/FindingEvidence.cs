using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>One transcript line a finding rests on: its sequence number, kind and text exactly as in <c>.log</c>.</summary>
internal sealed record FindingEvidence(long Seq, string Kind, string Text)
{
    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["seq"] = Seq,
        ["kind"] = Kind,
        ["text"] = Text,
    };

    /// <summary>The event as evidence, with the <c>.log</c> direction prefix (C:, S:, *).</summary>
    public static FindingEvidence Of(TranscriptEvent e) => new(e.Seq, e.Kind, e.Direction switch
    {
        Direction.Client => "C: " + e.Text,
        Direction.Server => "S: " + e.Text,
        _ => "* " + e.Text,
    });

    public override string ToString() => $"#{Seq} {Text}";
}
