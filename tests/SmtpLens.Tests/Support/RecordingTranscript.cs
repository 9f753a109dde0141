using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Support;

/// <summary>Keeps every event the dialogue records, in order, for assertions.</summary>
internal sealed class RecordingTranscript : ITranscriptRecorder
{
    private readonly List<RecordedEvent> _events = [];

    public IReadOnlyList<RecordedEvent> Events => _events;

    /// <summary>The anomaly codes (data "anomaly"), in order.</summary>
    public IReadOnlyList<string> AnomalyCodes => [.. OfKind(EventKinds.Anomaly).Select(e => (string)e.Get("anomaly")!)];

    /// <summary>Client command events' verbs, in order.</summary>
    public IReadOnlyList<string> CommandVerbs => [.. OfKind(EventKinds.Command).Select(e => (string)e.Get("verb")!)];

    /// <summary>The code of every well-formed reply line, in order.</summary>
    public IReadOnlyList<int> ReplyLineCodes => [.. OfKind(EventKinds.Reply).Where(e => e.Get("code") is int).Select(e => (int)e.Get("code")!)];

    /// <summary>The code of every complete reply (the last line of each), in order.</summary>
    public IReadOnlyList<int> ReplyCodes => [.. OfKind(EventKinds.Reply).Where(e => e.Get("last") is true).Select(e => (int)e.Get("code")!)];

    public IEnumerable<RecordedEvent> OfKind(string kind) => _events.Where(e => e.Kind == kind);

    public void Record(Direction direction, string kind, string text, IReadOnlyDictionary<string, object?>? data = null) =>
        _events.Add(new RecordedEvent(direction, kind, text, data));
}
