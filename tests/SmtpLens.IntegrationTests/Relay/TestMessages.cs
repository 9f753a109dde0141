using System.Security.Cryptography;
using System.Text;
using SmtpLens.Lab;

namespace SmtpLens.IntegrationTests.Relay;

internal static class TestMessages
{
    public static LabMessage Text(string body, string subject = "test") =>
        new("sender@example.test", ["rcpt@example.test"], Encoding.UTF8.GetBytes($"From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: {subject}\r\n\r\n{body}"));

    /// <summary>Text lines of about 76 characters, as real mail has, up to <paramref name="size"/> bytes.</summary>
    public static LabMessage Large(int size, int seed)
    {
        var random = new Random(seed);
        var content = new byte[size];
        var header = "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: large\r\n\r\n"u8;
        header.CopyTo(content);
        for (var i = header.Length; i < size; i++)
        {
            var col = (i - header.Length) % 78;
            content[i] = col switch
            {
                76 => (byte)'\r',
                77 => (byte)'\n',
                0 when random.Next(20) == 0 => (byte)'.',
                _ => (byte)random.Next(0x20, 0x7F),
            };
        }

        content[^2] = (byte)'\r';
        content[^1] = (byte)'\n';
        return new LabMessage("sender@example.test", ["rcpt@example.test"], content);
    }

    public static LabMessage Binary(int size, int seed, int chunk)
    {
        var content = new byte[size];
        new Random(seed).NextBytes(content);
        "\r\n.\r\n"u8.CopyTo(content.AsSpan(size / 2));
        return new LabMessage("sender@example.test", ["rcpt@example.test"], content) { BdatChunkSize = chunk };
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));
}
