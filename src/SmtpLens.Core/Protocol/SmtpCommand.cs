namespace SmtpLens.Protocol;

/// <summary>A command line as the client sent it: the verb, its arguments, and the line's anomalies.</summary>
internal sealed record SmtpCommand(SmtpVerb Verb, string VerbText, string Arguments, LineAnomalies Anomalies)
{
    private static readonly Dictionary<string, SmtpVerb> Verbs = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HELO"] = SmtpVerb.Helo,
        ["EHLO"] = SmtpVerb.Ehlo,
        ["LHLO"] = SmtpVerb.Lhlo,
        ["MAIL"] = SmtpVerb.Mail,
        ["RCPT"] = SmtpVerb.Rcpt,
        ["DATA"] = SmtpVerb.Data,
        ["BDAT"] = SmtpVerb.Bdat,
        ["RSET"] = SmtpVerb.Rset,
        ["NOOP"] = SmtpVerb.Noop,
        ["QUIT"] = SmtpVerb.Quit,
        ["VRFY"] = SmtpVerb.Vrfy,
        ["EXPN"] = SmtpVerb.Expn,
        ["HELP"] = SmtpVerb.Help,
        ["STARTTLS"] = SmtpVerb.StartTls,
        ["AUTH"] = SmtpVerb.Auth,
        ["ETRN"] = SmtpVerb.Etrn,
        ["XCLIENT"] = SmtpVerb.Xclient,
        ["XFORWARD"] = SmtpVerb.Xforward,
    };

    /// <summary>Parses one command line, terminator included. Never fails: unknown verbs are data too.</summary>
    public static SmtpCommand Parse(ReadOnlySpan<byte> line)
    {
        var anomalies = LineFramer.Inspect(line);
        var body = LineFramer.TrimTerminator(line);
        var space = body.IndexOf((byte)' ');
        var verbBytes = space < 0 ? body : body[..space];
        var argBytes = space < 0 ? [] : body[(space + 1)..];
        // Upper-case the ASCII letters before escaping, so "\r" stays "\r" rather than becoming "\R".
        Span<byte> upper = verbBytes.Length <= 64 ? stackalloc byte[verbBytes.Length] : new byte[verbBytes.Length];
        for (var i = 0; i < verbBytes.Length; i++)
        {
            upper[i] = verbBytes[i] is >= (byte)'a' and <= (byte)'z' ? (byte)(verbBytes[i] - 32) : verbBytes[i];
        }

        var verbText = AsciiText.Escape(upper);
        var verb = Verbs.GetValueOrDefault(verbText, SmtpVerb.Unknown);
        return new SmtpCommand(verb, verbText, AsciiText.Escape(argBytes), anomalies);
    }

    /// <summary>MAIL FROM:&lt;a@b&gt; and RCPT TO:&lt;c@d&gt; give their path; other verbs give null.</summary>
    public string? Path
    {
        get
        {
            if (Verb is not (SmtpVerb.Mail or SmtpVerb.Rcpt))
            {
                return null;
            }

            var colon = Arguments.IndexOf(':');
            var rest = (colon < 0 ? Arguments : Arguments[(colon + 1)..]).TrimStart();
            if (rest.StartsWith('<'))
            {
                var close = rest.IndexOf('>');
                return close < 0 ? rest : rest[..(close + 1)];
            }

            var sp = rest.IndexOf(' ');
            return sp < 0 ? rest : rest[..sp];
        }
    }
}
