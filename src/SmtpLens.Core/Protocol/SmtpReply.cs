namespace SmtpLens.Protocol;

/// <summary>A complete reply, single- or multi-line, with every raw line kept.</summary>
internal sealed class SmtpReply
{
    public SmtpReply(IReadOnlyList<ReplyLine> lines, IReadOnlyList<string> rawLines)
    {
        Lines = lines;
        RawLines = rawLines;
        Code = lines[^1].Code;
        // A loop, not LINQ: this runs for every reply, and the lambda's closure was an allocation per reply.
        for (var i = 1; i < lines.Count; i++)
        {
            if (lines[i].Code != lines[0].Code)
            {
                HasMixedCodes = true;
                break;
            }
        }
    }

    /// <summary>The code of the last line, which RFC 5321 4.2.1 makes authoritative.</summary>
    public int Code { get; }

    public IReadOnlyList<ReplyLine> Lines { get; }

    /// <summary>Each line as received, escaped, terminator removed.</summary>
    public IReadOnlyList<string> RawLines { get; }

    /// <summary>RFC 5321 4.2.1 requires one code throughout a multi-line reply.</summary>
    public bool HasMixedCodes { get; }

    public int Class => Code / 100;

    public bool IsPositive => Class is 2 or 3;

    /// <summary>The first line's text, which carries the enhanced status code and the reason.</summary>
    public string Text => string.Join(" / ", Lines.Select(l => l.Text));

    public override string ToString() => string.Join("\n", RawLines);
}

/// <summary>Collects reply lines into replies, one at a time, across any read boundaries.</summary>
internal sealed class ReplyAssembler
{
    private readonly List<ReplyLine> _lines = [];
    private readonly List<string> _raw = [];

    public bool InProgress => _lines.Count > 0;

    /// <returns>The finished reply when <paramref name="line"/> ended it, otherwise null.</returns>
    public SmtpReply? Add(ReplyLine line, string raw)
    {
        _lines.Add(line);
        _raw.Add(raw);
        if (!line.IsLast)
        {
            return null;
        }

        var reply = new SmtpReply([.. _lines], [.. _raw]);
        _lines.Clear();
        _raw.Clear();
        return reply;
    }
}
