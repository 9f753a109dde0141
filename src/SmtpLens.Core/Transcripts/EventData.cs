using System.Collections.Concurrent;

namespace SmtpLens.Transcripts;

/// <summary>Shared, immutable data objects for the events every SMTP line produces.</summary>
/// <remarks>A dictionary per reply line was the largest allocation on the relay path; the combinations
/// of reply code and "last line" and the command verbs repeat, so one instance each serves every session.</remarks>
internal static class EventData
{
    private static readonly ConcurrentDictionary<int, IReadOnlyDictionary<string, object?>> Replies = new();
    private static readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, object?>> Verbs = new(StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, object?> Reply(int code, bool last) =>
        Replies.GetOrAdd((code * 2) + (last ? 1 : 0), key => new Dictionary<string, object?> { ["code"] = key / 2, ["last"] = (key & 1) == 1 });

    /// <summary>Known verbs are cached; anything else (garbage, long tokens) gets its own object.</summary>
    public static IReadOnlyDictionary<string, object?> Command(string verb, bool known) =>
        known ? Verbs.GetOrAdd(verb, v => new Dictionary<string, object?> { ["verb"] = v }) : new Dictionary<string, object?> { ["verb"] = verb };
}
