using System.Buffers;
using System.Text;

namespace SmtpLens.Protocol;

/// <summary>Turns protocol bytes into transcript text that cannot break a log line.</summary>
internal static class AsciiText
{
    /// <summary>Printable ASCII and UTF-8 pass through; controls become \r, \n, \0 or \xHH.</summary>
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var needsEscape = false;
        foreach (var b in bytes)
        {
            if (b < 0x20 || b == 0x7F || b == (byte)'\\')
            {
                needsEscape = true;
                break;
            }
        }

        var text = Encoding.UTF8.GetString(bytes);
        if (!needsEscape && Utf8IsValid(bytes))
        {
            return text;
        }

        var sb = new StringBuilder(bytes.Length + 8);
        foreach (var b in bytes)
        {
            switch (b)
            {
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case 0: sb.Append("\\0"); break;
                case (byte)'\\': sb.Append("\\\\"); break;
                case < 0x20 or 0x7F or >= 0x80: sb.Append("\\x").Append(b.ToString("X2")); break;
                default: sb.Append((char)b); break;
            }
        }

        return sb.ToString();
    }

    public static string Escape(in ReadOnlySequence<byte> bytes) =>
        bytes.IsSingleSegment ? Escape(bytes.FirstSpan) : Escape(bytes.ToArray());

    private static bool Utf8IsValid(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);
}
