using System.Text.RegularExpressions;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>BLOCKLIST_REJECTION: a 4xx/5xx naming a block list, or a x.7.x policy refusal of the client's IP.</summary>
/// <remarks>Relay denials ("554 5.7.1 Relay access denied") are 5.7.1 too, so the policy case needs the reply
/// to be about the client host or its IP, not about a recipient.</remarks>
internal sealed partial class BlocklistDetector : IFindingDetector
{
    /// <summary>What the reply may say, and the list name to report for it, in the order checked.</summary>
    private static readonly (string Pattern, string Name)[] Lists =
    [
        ("spamhaus|zen\\.|\\bsbl\\b|\\bxbl\\b|\\bpbl\\b", "Spamhaus"),
        ("abuseat|\\bcbl\\b", "CBL"),
        ("barracuda", "Barracuda"),
        ("spamcop", "SpamCop"),
        ("sorbs", "SORBS"),
        ("uceprotect", "UCEPROTECT"),
        ("psbl", "PSBL"),
        ("spamrats", "SpamRATS"),
        ("mailspike", "Mailspike"),
        ("sender\\.office\\.com|banned sending ip|\\bS3150\\b|\\bS3140\\b|\\bS844\\b|5\\.7\\.60[6-9]|5\\.7\\.6[1-4]\\d|5\\.7\\.511", "Microsoft"),
        ("\\b(dnsbl|rbl|rbls)\\b|block ?list|black ?list|blocked using|listed (at|on|in|by)", "a DNS block list"),
    ];

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (view.CompletedReply is not { Code: >= 400 and < 600 } reply)
        {
            return;
        }

        var text = reply.Text;
        var list = Lists.FirstOrDefault(l => Regex.IsMatch(text, l.Pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))).Name;
        var policy = list is null && PolicyCode().IsMatch(text) && ClientIp().IsMatch(text);
        if (list is null && !policy)
        {
            return;
        }

        var hint = DelistingHint(text);
        var what = reply.IsGreeting ? "the connection" : reply.EndOfData ? "the message content" : reply.Verb;
        var title = list is not null
            ? $"{what} rejected by a block list ({list}): {reply.Lines[^1].Text}"
            : $"{what} rejected by policy against the client's IP: {reply.Lines[^1].Text}";
        found.Add(FindingCatalog.BlocklistRejection.Create(
            FindingLeg.Upstream,
            title,
            reply.Evidence,
            new Dictionary<string, object?> { ["list"] = list, ["delistingHint"] = hint, ["code"] = reply.Code },
            severity: reply.Code < 500 ? FindingSeverity.Warning : FindingSeverity.Error,
            nextStep: hint is null ? null : $"Delisting hint from the reply: {hint}. {FindingCatalog.BlocklistRejection.NextStep}"));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }

    /// <summary>A URL in the reply, or the sentence that talks about removal or delisting.</summary>
    public static string? DelistingHint(string text)
    {
        if (Url().Match(text) is { Success: true } url)
        {
            return url.Value.TrimEnd('.', ',', ';', ')', ']');
        }

        return Removal().Match(text) is { Success: true } removal ? removal.Value.Trim() : null;
    }

    [GeneratedRegex(@"\b[45]\.7\.\d{1,3}\b")]
    private static partial Regex PolicyCode();

    [GeneratedRegex(@"client host|client ip|your ip|sending ip|ip address|connecting ip|\[\d{1,3}(\.\d{1,3}){3}\]|\[IPv6:[0-9a-f:]+\]|reverse (dns|hostname)|cannot find your hostname", RegexOptions.IgnoreCase)]
    private static partial Regex ClientIp();

    [GeneratedRegex(@"https?://[^\s""'<>]+", RegexOptions.IgnoreCase)]
    private static partial Regex Url();

    [GeneratedRegex(@"[^.;]*\b(delist\w*|remov\w*)\b[^.;]*", RegexOptions.IgnoreCase)]
    private static partial Regex Removal();
}
