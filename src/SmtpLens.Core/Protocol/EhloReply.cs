namespace SmtpLens.Protocol;

/// <summary>One EHLO keyword line: <c>250-SIZE 157286400</c> gives keyword SIZE, parameters "157286400".</summary>
internal sealed record EhloKeyword(string Keyword, string Parameters, string RawLine);

/// <summary>A 250 reply to EHLO, parsed into keywords while keeping every raw line.</summary>
internal sealed class EhloReply
{
    private EhloReply(string domain, string greeting, IReadOnlyList<EhloKeyword> keywords, IReadOnlyList<string> rawLines)
    {
        Domain = domain;
        Greeting = greeting;
        Keywords = keywords;
        RawLines = rawLines;
    }

    public string Domain { get; }

    public string Greeting { get; }

    public IReadOnlyList<EhloKeyword> Keywords { get; }

    public IReadOnlyList<string> RawLines { get; }

    public bool Has(string keyword) => Keywords.Any(k => k.Keyword.Equals(keyword, StringComparison.OrdinalIgnoreCase));

    public static EhloReply? From(SmtpReply reply)
    {
        if (reply.Code != 250)
        {
            return null;
        }

        var first = reply.Lines[0].Text;
        var sp = first.IndexOf(' ');
        var domain = sp < 0 ? first : first[..sp];
        var greeting = sp < 0 ? string.Empty : first[(sp + 1)..];
        var keywords = new List<EhloKeyword>(reply.Lines.Count);
        for (var i = 1; i < reply.Lines.Count; i++)
        {
            var text = reply.Lines[i].Text;
            var ksp = text.IndexOf(' ');
            var keyword = (ksp < 0 ? text : text[..ksp]).ToUpperInvariant();
            var parameters = ksp < 0 ? string.Empty : text[(ksp + 1)..];
            keywords.Add(new EhloKeyword(keyword, parameters, reply.RawLines[i]));
        }

        return new EhloReply(domain, greeting, keywords, reply.RawLines);
    }
}
