using System.Text;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Transcripts;

public sealed class MessageDigestTests
{
    private const string Message = "From: a@example.com\r\nSubject: hello\r\n  folded\r\n\r\nbody line\r\nSecond: not a header\r\n";

    [Fact]
    public void Finish_WrittenInAnyPieces_GivesSizeAndSha256OfTheContent()
    {
        var content = Bytes.Ascii(Message);
        for (var cut = 0; cut <= content.Length; cut++)
        {
            using var digest = new MessageDigest(64 * 1024, null);
            digest.Write(content.AsSpan(0, cut));
            digest.Write(content.AsSpan(cut));

            Assert.Equal(Bytes.Sha256Hex(content), digest.Finish());
            Assert.Equal(content.Length, digest.Size);
            Assert.Equal("From: a@example.com\nSubject: hello\n  folded", digest.Headers);
            Assert.False(digest.HeadersTruncated);
        }
    }

    [Fact]
    public void Finish_NoContent_IsTheEmptyHash()
    {
        using var digest = new MessageDigest(1024, null);

        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", digest.Finish());
        Assert.Equal(0, digest.Size);
        Assert.Equal(string.Empty, digest.Headers);
    }

    [Theory]
    [InlineData("A: 1\nB: 2\n\nBody: no\n", "A: 1\nB: 2")]
    [InlineData("A: 1\r\nB: 2\n\r\nBody: no\r\n", "A: 1\nB: 2")]
    [InlineData("\r\nBody: no\r\n", "")]
    [InlineData("A: 1\r\nB: 2", "A: 1\nB: 2")]
    [InlineData("A: \u0001x\r\n\r\n", @"A: \x01x")]
    public void Headers_EndAtTheFirstEmptyLine(string content, string headers)
    {
        using var digest = new MessageDigest(1024, null);

        foreach (var b in Bytes.Utf8(content))
        {
            digest.Write([b]);
        }

        Assert.Equal(headers, digest.Headers);
    }

    [Fact]
    public void Headers_OverTheCap_AreTruncatedAndFlagged()
    {
        using var digest = new MessageDigest(16, null);

        digest.Write(Bytes.Ascii("Subject: a very long subject line\r\n\r\nbody"));

        Assert.True(digest.HeadersTruncated);
        Assert.Equal("Subject: a very ", digest.Headers);
        Assert.Equal(41, digest.Size);
    }

    [Fact]
    public void Write_WithCapture_CopiesEveryByte()
    {
        var capture = new MemoryStream();
        var content = Bytes.Ascii(Message);
        using (var digest = new MessageDigest(1024, capture))
        {
            digest.Write(content.AsSpan(0, 10));
            digest.Write(content.AsSpan(10));
            digest.Finish();
        }

        Assert.Equal(content, capture.ToArray());
        Assert.False(capture.CanWrite, "the digest owns and closes its capture stream");
    }

    [Fact]
    public void Headers_NonUtf8_AreEscaped()
    {
        using var digest = new MessageDigest(1024, null);

        digest.Write([.. Encoding.ASCII.GetBytes("X: "), 0xFF, .. "\r\n\r\n"u8]);

        Assert.Equal(@"X: \xFF", digest.Headers);
    }
}
