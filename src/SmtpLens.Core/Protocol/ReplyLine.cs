namespace SmtpLens.Protocol;

/// <summary>One line of an SMTP reply (RFC 5321 4.2): a three-digit code, '-' or ' ', text.</summary>
internal readonly record struct ReplyLine(int Code, bool IsLast, string Text)
{
    /// <summary>Parses a line with its terminator removed. A bare code ("250") counts as a last line.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out ReplyLine reply)
    {
        reply = default;
        if (line.Length < 3 || !IsDigit(line[0], '2', '5') || !IsDigit(line[1], '0', '9') || !IsDigit(line[2], '0', '9'))
        {
            return false;
        }

        var code = ((line[0] - '0') * 100) + ((line[1] - '0') * 10) + (line[2] - '0');
        if (line.Length == 3)
        {
            reply = new ReplyLine(code, true, string.Empty);
            return true;
        }

        var separator = line[3];
        if (separator is not ((byte)' ' or (byte)'-'))
        {
            return false;
        }

        reply = new ReplyLine(code, separator == (byte)' ', AsciiText.Escape(line[4..]));
        return true;
    }

    private static bool IsDigit(byte b, char min, char max) => b >= min && b <= max;
}
