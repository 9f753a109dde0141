using System.Text;
using SmtpLens.Protocol;

namespace SmtpLens.Simulation;

/// <summary>What the simulated middlebox does with one command.</summary>
internal readonly record struct CommandVerdict(bool Forward, string? LocalReply, string? Why)
{
    public static readonly CommandVerdict Pass = new(true, null, null);
}

/// <summary>One reply line after filtering: the bytes to send (null drops the line) and what changed.</summary>
internal readonly record struct LineRewrite(byte[]? Line, string? Change);

/// <summary>The ESMTP-inspection rules as pure functions over lines; no sockets, no state.</summary>
internal sealed class EsmtpFilter(SimulationRules rules)
{
    public const string RefusedStartTls = "454 4.7.0 TLS not available due to temporary reason";

    public CommandVerdict Judge(SmtpCommand command)
    {
        if (command.Verb is SmtpVerb.Ehlo && rules.RefuseEhlo)
        {
            return new CommandVerdict(false, "500 5.5.1 Command unrecognized", "refused EHLO so the client falls back to HELO");
        }

        if (command.Verb is SmtpVerb.StartTls && rules.RefuseStartTls)
        {
            return new CommandVerdict(false, RefusedStartTls, "answered STARTTLS with 454 instead of forwarding it");
        }

        if (rules.RefuseCommands.TryGetValue(command.VerbText, out var code))
        {
            // Cisco overwrites a masked command with X's before the server sees it, so the refusal quotes those.
            var shown = rules.MaskKeywords.Contains(command.VerbText) ? new string('X', command.VerbText.Length) : command.VerbText;
            var reply = code == 502 ? "502 5.5.1 Command not implemented" : $"500 5.5.1 Command unrecognized: \"{shown}\"";
            return new CommandVerdict(false, reply, $"answered {command.VerbText} with {code} instead of forwarding it");
        }

        return CommandVerdict.Pass;
    }

    /// <summary>Rewrites a banner line; <paramref name="line"/> includes its terminator.</summary>
    public LineRewrite Banner(byte[] line)
    {
        if (!rules.MaskBanner || line.Length < 5)
        {
            return new LineRewrite(line, null);
        }

        var masked = (byte[])line.Clone();
        var end = LineFramer.TrimTerminator(line).Length;
        for (var i = 4; i < end; i++)
        {
            if (masked[i] is not ((byte)'2' or (byte)'0'))
            {
                masked[i] = (byte)'*';
            }
        }

        return new LineRewrite(masked, $"masked the banner (Cisco mask-banner): upstream sent \"{AsciiText.Escape(LineFramer.TrimTerminator(line))}\"");
    }

    /// <summary>Rewrites one line of the EHLO reply. The first line (the greeting) is never a keyword.</summary>
    /// <param name="isLast">Whether the upstream sent this as the reply's last line.</param>
    public LineRewrite EhloLine(byte[] line, bool isFirst, bool isLast)
    {
        var body = LineFramer.TrimTerminator(line);
        if (isFirst || body.Length < 5)
        {
            return new LineRewrite(line, null);
        }

        var text = Encoding.ASCII.GetString(body[4..]);
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        var keyword = (space < 0 ? text : text[..space]).ToUpperInvariant();
        if (rules.StripKeywords.Contains(keyword))
        {
            // Dropping the last line would leave a reply with no final line; the caller re-terminates the reply.
            return new LineRewrite(null, $"removed EHLO keyword {keyword}: upstream sent \"{AsciiText.Escape(body)}\"{(isLast ? " (its last line)" : string.Empty)}");
        }

        if (rules.MaskKeywords.Contains(keyword))
        {
            // Same length, X's ending in a letter, as Cisco's ESMTP inspection writes in place.
            var masked = (byte[])line.Clone();
            for (var i = 4; i < body.Length; i++)
            {
                masked[i] = i == body.Length - 1 ? (byte)'A' : (byte)'X';
            }

            return new LineRewrite(masked, $"masked EHLO keyword {keyword} as {Encoding.ASCII.GetString(masked, 4, body.Length - 4)}: upstream sent \"{AsciiText.Escape(body)}\"");
        }

        return new LineRewrite(line, null);
    }

    /// <summary>Turns "250-X" into "250 X" so a reply whose real last line was stripped still ends.</summary>
    public static byte[] AsLastLine(byte[] line)
    {
        var copy = (byte[])line.Clone();
        if (copy.Length > 3 && copy[3] == (byte)'-')
        {
            copy[3] = (byte)' ';
        }

        return copy;
    }
}
