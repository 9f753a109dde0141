using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe.Diff;

/// <summary>One EHLO keyword as a transcript recorded it.</summary>
internal sealed record SnapshotKeyword(string Keyword, string Parameters, string Raw)
{
    public string Shown => Parameters.Length > 0 ? $"{Keyword} {Parameters}" : Keyword;
}

/// <summary>The upstream's side of one session as <c>diff</c> compares it: banner, EHLO keywords, TLS and
/// certificate. Built from transcript events only, so a probe and a proxy transcript compare alike.</summary>
internal sealed class DialogueSnapshot
{
    public required string Label { get; init; }

    public required string Session { get; init; }

    public string? Upstream { get; init; }

    public IReadOnlyList<TranscriptEvent> Banner { get; init; } = [];

    /// <summary>The EHLO reply before TLS (or the first inside TLS for implicit TLS), with its event.</summary>
    public TranscriptEvent? Ehlo { get; init; }

    public IReadOnlyList<SnapshotKeyword> Keywords { get; init; } = [];

    public TranscriptEvent? EhloInTls { get; init; }

    public IReadOnlyList<SnapshotKeyword> KeywordsInTls { get; init; } = [];

    /// <summary>The data of the TLS record toward the server (a <c>tls</c> or <c>tls-failed</c> event).</summary>
    public IReadOnlyDictionary<string, object?>? Tls { get; init; }

    public string? EhloDomain => EventFields.Text(Ehlo?.Data, "domain");

    /// <summary>Only the first session's events are used; a transcript file normally holds one.</summary>
    public static DialogueSnapshot FromEvents(string label, IReadOnlyList<TranscriptEvent> events)
    {
        if (events.Count == 0)
        {
            throw new InvalidDataException($"{label}: no transcript events");
        }

        var session = events[0].Session;
        var view = new DialogueView(session);
        TranscriptEvent? plaintext = null;
        TranscriptEvent? inTls = null;
        IReadOnlyDictionary<string, object?>? tls = null;
        string? upstream = null;
        foreach (var e in events.Where(e => e.Session == session).OrderBy(e => e.Seq))
        {
            view.Advance(e);
            switch (e.Kind)
            {
                case EventKinds.Ehlo when !view.TlsStarted:
                    plaintext = e;
                    break;
                case EventKinds.Ehlo:
                    inTls ??= e;
                    break;
                case EventKinds.TlsHandshake or EventKinds.TlsFailed when EventFields.Text(e.Data, "leg") is "upstream" or "passthrough":
                    tls = e.Data;
                    break;
                case EventKinds.UpstreamConnect:
                    upstream = EventFields.Text(e.Data, "upstream");
                    break;
            }
        }

        return new DialogueSnapshot
        {
            Label = label,
            Session = session,
            Upstream = upstream,
            Banner = view.Greeting?.Lines ?? [],
            Ehlo = plaintext ?? inTls,
            Keywords = KeywordsOf(plaintext ?? inTls),
            EhloInTls = plaintext is null ? null : inTls,
            KeywordsInTls = plaintext is null ? [] : KeywordsOf(inTls),
            Tls = tls,
        };
    }

    private static IReadOnlyList<SnapshotKeyword> KeywordsOf(TranscriptEvent? ehlo) =>
        [.. EventFields.Maps(ehlo?.Data, "keywords").Select(k => new SnapshotKeyword(EventFields.Text(k, "keyword") ?? string.Empty, EventFields.Text(k, "params") ?? string.Empty, EventFields.Text(k, "raw") ?? string.Empty))];
}
