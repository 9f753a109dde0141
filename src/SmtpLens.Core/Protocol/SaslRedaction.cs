using System.Buffers;
using System.Text;

namespace SmtpLens.Protocol;

/// <summary>What an AUTH line or a SASL response (RFC 4954) may show in a transcript.</summary>
/// <remarks>
/// Liberal on purpose: the relay parses commands strictly (one SP after the verb), but a server that splits on
/// any white space accepts <c>AUTH&#9;PLAIN&#9;token</c> too, so for redaction any run of SP/HTAB separates
/// words, leading white space is skipped and the verb's case is ignored. When in doubt a word is redacted.
/// </remarks>
internal static class SaslRedaction
{
    /// <summary>RFC 4422 3.1 caps mechanism names at 20 characters.</summary>
    private const int MaxMechanismLength = 20;

    /// <summary>Shown in whatever case the client wrote them ("Auth Login").</summary>
    private static readonly HashSet<string> KnownMechanisms = new(StringComparer.OrdinalIgnoreCase)
    {
        "PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "XOAUTH2", "OAUTHBEARER", "NTLM", "GSSAPI", "EXTERNAL", "ANONYMOUS",
        "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
    };

    /// <summary>The line (without terminator) is an AUTH command for redaction purposes.</summary>
    public static bool IsAuthCommand(ReadOnlySpan<byte> body)
    {
        var start = SkipBlanks(body, 0);
        var end = WordEnd(body, start);
        return end - start == 4 && Ascii.EqualsIgnoreCase(body[start..end], "AUTH"u8);
    }

    /// <summary>The start of a line that never ended may be an AUTH command: too short to tell counts as one.</summary>
    public static bool MayBeAuthCommand(in ReadOnlySequence<byte> partial)
    {
        Span<byte> head = stackalloc byte[32];
        var n = (int)Math.Min(head.Length, partial.Length);
        partial.Slice(0, n).CopyTo(head);
        var start = SkipBlanks(head[..n], 0);
        var word = head[start..WordEnd(head[..n], start)];
        return word.Length <= 4 && Ascii.EqualsIgnoreCase(word, "AUTH"u8[..word.Length]);
    }

    /// <summary>The AUTH line as sent, separators escaped, with the initial response (and a mechanism name that
    /// does not look like one) replaced by its length.</summary>
    public static string RedactAuthCommand(ReadOnlySpan<byte> body)
    {
        var verbStart = SkipBlanks(body, 0);
        var verbEnd = WordEnd(body, verbStart);
        var mechStart = SkipBlanks(body, verbEnd);
        var mechEnd = WordEnd(body, mechStart);
        var restStart = SkipBlanks(body, mechEnd);
        var shown = new StringBuilder(AsciiText.Escape(body[..mechStart]));
        var mechanism = body[mechStart..mechEnd];
        if (mechanism.Length > 0)
        {
            shown.Append(IsMechanismName(mechanism) ? AsciiText.Escape(mechanism) : $"<redacted, {mechanism.Length} bytes>");
        }

        shown.Append(AsciiText.Escape(body[mechEnd..restStart]));
        if (restStart < body.Length)
        {
            shown.Append($"<redacted initial response, {body.Length - restStart} bytes>");
        }

        return shown.ToString();
    }

    /// <summary>A client line answering a 334 challenge.</summary>
    public static string RedactResponse(ReadOnlySpan<byte> body) =>
        body.Length == 1 && body[0] == (byte)'*' ? "* (the client cancelled the exchange)" : $"<redacted SASL response, {body.Length} bytes>";

    /// <summary>A known name, or RFC 4422's mech-char set in one case only: base64 credentials mix cases, so a
    /// client that put its token where the mechanism belongs does not get it shown.</summary>
    private static bool IsMechanismName(ReadOnlySpan<byte> word)
    {
        if (word.Length > MaxMechanismLength)
        {
            return false;
        }

        if (KnownMechanisms.Contains(Encoding.ASCII.GetString(word)))
        {
            return true;
        }

        bool upper = false, lower = false;
        foreach (var b in word)
        {
            upper |= b is >= (byte)'A' and <= (byte)'Z';
            lower |= b is >= (byte)'a' and <= (byte)'z';
            if (!(b is (byte)'-' or (byte)'_' || char.IsAsciiLetterOrDigit((char)b)))
            {
                return false;
            }
        }

        return !(upper && lower);
    }

    private static bool IsBlank(byte b) => b is (byte)' ' or (byte)'\t';

    private static int SkipBlanks(ReadOnlySpan<byte> text, int i)
    {
        while (i < text.Length && IsBlank(text[i]))
        {
            i++;
        }

        return i;
    }

    private static int WordEnd(ReadOnlySpan<byte> text, int i)
    {
        while (i < text.Length && !IsBlank(text[i]))
        {
            i++;
        }

        return i;
    }
}
