using System.Security.Cryptography;
using System.Text;

namespace SmtpLens.Tests.Support;

internal static class Bytes
{
    public static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>SHA-256 in the lower-case hex the transcripts use, computed here, not by the code under test.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    /// <summary>The input as a C# collection literal, for turning a fuzz finding into a regression test.</summary>
    public static string Literal(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder("[");
        for (var i = 0; i < bytes.Length; i++)
        {
            sb.Append(i == 0 ? string.Empty : ", ").Append("0x").Append(bytes[i].ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return sb.Append(']').ToString();
    }
}
