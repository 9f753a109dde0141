using System.Globalization;
using SmtpLens.Relay;
using SmtpLens.StateMachine;

namespace SmtpLens.Transcripts;

/// <summary>The end-of-session facts an admin asks first: who, what was offered, what was sent, how it ended.</summary>
internal sealed record SessionSummary(
    string SessionId,
    string Listener,
    string Client,
    string Upstream,
    string? EhloName,
    string? Banner,
    IReadOnlyList<string> UpstreamCapabilities,
    IReadOnlyList<Transaction> Transactions,
    long BytesFromClient,
    long BytesFromUpstream,
    TimeSpan Duration,
    SessionEndReason Reason,
    string EndDetail)
{
    public IReadOnlyList<string> ToLines()
    {
        var lines = new List<string>
        {
            $"client {Client} -> upstream {Upstream} (listener {Listener})",
            $"banner: {Banner ?? "(none)"}",
            $"EHLO/HELO name: {EhloName ?? "(none)"}",
            $"upstream capabilities: {(UpstreamCapabilities.Count == 0 ? "(none seen)" : string.Join(", ", UpstreamCapabilities))}",
        };
        lines.AddRange(Transactions.Select(t => t.Describe()));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"bytes client->upstream {BytesFromClient}, upstream->client {BytesFromUpstream}, duration {Duration.TotalSeconds:0.000} s"));
        lines.Add($"ended: {Reason} ({EndDetail})");
        return lines;
    }

    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["listener"] = Listener,
        ["client"] = Client,
        ["upstream"] = Upstream,
        ["banner"] = Banner,
        ["ehlo"] = EhloName,
        ["capabilities"] = UpstreamCapabilities,
        ["transactions"] = Transactions.Select(t => new Dictionary<string, object?>
        {
            ["number"] = t.Number,
            ["mailFrom"] = t.MailFrom,
            ["recipients"] = t.RecipientsAccepted,
            ["recipientsRefused"] = t.RecipientsRejected,
            ["method"] = t.Method,
            ["size"] = t.Size,
            ["sha256"] = t.Sha256,
            ["finalReply"] = t.FinalReply?.RawLines[^1],
            ["accepted"] = t.Accepted,
            ["abandoned"] = t.Abandoned,
        }).ToList(),
        ["bytesFromClient"] = BytesFromClient,
        ["bytesFromUpstream"] = BytesFromUpstream,
        ["durationMs"] = (long)Duration.TotalMilliseconds,
        ["end"] = Reason.ToString(),
        ["endDetail"] = EndDetail,
        ["lines"] = ToLines(),
    };

    public string ToLogLine() => string.Create(
        CultureInfo.InvariantCulture,
        $"end {Reason}: {Client} -> {Upstream}, ehlo {EhloName ?? "-"}, {Transactions.Count} transaction(s) ({Transactions.Count(t => t.Accepted)} accepted), {BytesFromClient}/{BytesFromUpstream} bytes, {Duration.TotalSeconds:0.000} s; {EndDetail}");
}
