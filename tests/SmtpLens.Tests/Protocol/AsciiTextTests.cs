using System.Text;
using SmtpLens.Protocol;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Protocol;

public sealed class AsciiTextTests
{
    [Theory]
    [InlineData("250 OK", "250 OK")]
    [InlineData("a\rb\nc\0d", @"a\rb\nc\0d")]
    [InlineData("tab\there", @"tab\x09here")]
    [InlineData("del\u007f", @"del\x7F")]
    [InlineData("back\\slash", @"back\\slash")]
    public void Escape_ControlsBecomeVisible(string input, string expected)
    {
        Assert.Equal(expected, AsciiText.Escape(Encoding.UTF8.GetBytes(input)));
    }

    [Fact]
    public void Escape_ValidUtf8_PassesThrough()
    {
        Assert.Equal("Grüße, 世界", AsciiText.Escape(Encoding.UTF8.GetBytes("Grüße, 世界")));
    }

    [Fact]
    public void Escape_InvalidUtf8_BecomesHex()
    {
        Assert.Equal(@"a\xFF\xFEb", AsciiText.Escape([(byte)'a', 0xFF, 0xFE, (byte)'b']));
    }

    [Fact]
    public void Escape_NeverProducesALineBreak()
    {
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        var text = AsciiText.Escape(all);

        Assert.DoesNotContain('\r', text);
        Assert.DoesNotContain('\n', text);
        Assert.DoesNotContain('\0', text);
    }

    [Fact]
    public void Escape_MultiSegmentSequence_MatchesContiguous()
    {
        var bytes = Bytes.Utf8("EHLO \u00e9t\u00e9\r\n\0x");

        Assert.Equal(AsciiText.Escape(bytes), AsciiText.Escape(BufferSegment.Sequence(bytes, 1, 2)));
    }
}
