using System.Text.RegularExpressions;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>COMMAND_MASKED: a command overwritten with X's on its way to the server, seen either as the masked
/// command itself (SmtpLens behind the firewall) or as the server's echo of it (SmtpLens in front of it):
/// <c>500 5.5.1 Command unrecognized: "XXXXXXXX"</c>.</summary>
internal sealed partial class CommandMaskDetector : IFindingDetector
{
    private static readonly string[] KnownCommands = ["STARTTLS", "XFORWARD", "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "AUTH", "RSET", "VRFY", "EXPN", "HELP", "NOOP", "QUIT", "ETRN", "XCLIENT", "XEXCH50", "X-EXPS"];

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (view.CompletedReply is not { Verb: { } verb, Command: { } command, Code: >= 500 and < 600 } reply)
        {
            return;
        }

        var echoed = MaskedEcho(reply.Text);
        var sentMasked = MaskedText.IsMaskedToken(verb);
        if (echoed is null && !sentMasked)
        {
            return;
        }

        var replyText = reply.Lines[^1].Text;
        string title;
        string? likely;
        if (!sentMasked)
        {
            likely = verb;
            title = $"{verb} reached the server as \"{echoed}\" and was refused: {replyText}";
        }
        else
        {
            var candidates = KnownCommands.Where(c => c.Length == verb.Length).ToList();
            likely = candidates.Count > 0 ? candidates[0] : null;
            title = $"the command \"{command.Text}\" is masked ({verb.Length} letters{(likely is null ? string.Empty : $", most likely {likely}")}) and was refused: {replyText}";
        }

        found.Add(FindingCatalog.CommandMasked.Create(
            FindingLeg.Client,
            title,
            reply.Evidence,
            new Dictionary<string, object?> { ["masked"] = echoed ?? verb, ["likely"] = likely },
            severity: likely == "STARTTLS" ? FindingSeverity.Error : FindingSeverity.Warning));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }

    /// <summary>The masked token a server quotes back in its "unrecognized" reply, if any.</summary>
    public static string? MaskedEcho(string replyText) =>
        Echo().Match(replyText) is { Success: true } m && MaskedText.IsMaskedToken(m.Groups[1].Value) ? m.Groups[1].Value : null;

    [GeneratedRegex("\"([X*x]{3,}[A-Za-z0-9*]?)\"")]
    private static partial Regex Echo();
}
