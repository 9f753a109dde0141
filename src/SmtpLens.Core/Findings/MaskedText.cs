namespace SmtpLens.Findings;

/// <summary>Recognizes text overwritten by an inspecting firewall: runs of X or * in place of a keyword,
/// command or banner (Cisco PIX/ASA writes 250-XXXXXXXA, XXXXXXXX and 220 ****...2*0***0****).</summary>
internal static class MaskedText
{
    /// <summary>Common EHLO keywords by length, most likely first; STARTTLS leads the 8-letter ones because
    /// it is the one inspection devices remove.</summary>
    private static readonly string[] KnownKeywords =
    [
        "STARTTLS", "CHUNKING", "8BITMIME", "SMTPUTF8", "PIPELINING", "BINARYMIME", "SIZE", "AUTH", "ETRN", "VRFY", "EXPN", "HELP",
        "DSN", "ENHANCEDSTATUSCODES", "DELIVERBY", "REQUIRETLS", "XEXCH50", "XCLIENT", "XFORWARD", "X-EXPS", "TURN", "ATRN", "LIMITS",
    ];

    /// <summary>A keyword or command token that is all filler but for at most one character (XXXXXXXA).</summary>
    public static bool IsMaskedToken(string token)
    {
        if (token.Length < 4)
        {
            return false;
        }

        var filler = token.Count(c => c is 'X' or 'x' or '*');
        return filler >= token.Length - 1 && token.Distinct().Count() <= 2;
    }

    /// <summary>Known keywords of the same length that the reply does not already show unmasked.</summary>
    public static IReadOnlyList<string> Candidates(string masked, IEnumerable<string> present)
    {
        var shown = new HashSet<string>(present, StringComparer.OrdinalIgnoreCase);
        return [.. KnownKeywords.Where(k => k.Length == masked.Length && !shown.Contains(k))];
    }

    /// <summary>Banner text (after the code) mostly made of asterisks: at least 8 of them and half the text.</summary>
    public static bool IsMaskedBanner(string text)
    {
        var visible = text.Count(c => c != ' ');
        var stars = text.Count(c => c == '*');
        return stars >= 8 && stars * 2 >= visible;
    }
}
