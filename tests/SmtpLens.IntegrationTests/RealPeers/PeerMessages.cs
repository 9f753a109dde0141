using System.Text;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>The message the real-peer relay tests send: headers, dot-stuffing bait and 8-bit text.</summary>
internal static class PeerMessages
{
    public static byte[] Sample(string subject, string body = "Grüße, 8-bit text\r\n") => Encoding.UTF8.GetBytes(
        "From: Sender <sender@client.test>\r\n" +
        "To: rcpt@example.test\r\n" +
        $"Subject: {subject}\r\n" +
        "Message-ID: <" + Guid.NewGuid().ToString("N") + "@client.test>\r\n" +
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" +
        "\r\n" +
        ".a line with a leading dot\r\n..two dots\r\n.\r\n" +
        body +
        "last line\r\n");
}
