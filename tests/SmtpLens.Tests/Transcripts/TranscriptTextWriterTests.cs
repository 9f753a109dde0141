using System.Text;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Transcripts;

/// <summary>The pooled transcript writer must put exactly the UTF-8 a StreamWriter would into the file.</summary>
public sealed class TranscriptTextWriterTests
{
    [Fact]
    public void Writes_Utf8_Without_Bom_Including_A_Surrogate_Pair_Split_Across_Calls()
    {
        using var file = new MemoryStream();
        using var writer = new TranscriptTextWriter(file);
        const string emoji = "\U0001F4E7";

        writer.Write("caf\u00e9 ");
        writer.Write(emoji[0]);
        writer.Write(emoji[1]);
        writer.Write(',');
        writer.Write(-1234567890123L);
        writer.WriteLine(" end");
        writer.Flush();

        Assert.Equal(Encoding.UTF8.GetBytes($"caf\u00e9 {emoji},-1234567890123 end{Environment.NewLine}"), file.ToArray());
    }

    [Fact]
    public void Small_Writes_Reach_The_File_On_Flush_And_Large_Ones_In_Order()
    {
        using var file = new MemoryStream();
        using var writer = new TranscriptTextWriter(file);
        writer.WriteLine("220 mx.example.org");
        Assert.Equal(0, file.Length);
        writer.Flush();
        Assert.Equal(Encoding.UTF8.GetBytes("220 mx.example.org\n".Replace("\n", Environment.NewLine, StringComparison.Ordinal)), file.ToArray());

        // Over the 32 KiB threshold within one batch, and again after the buffer went back to the pool.
        var expected = new StringBuilder("220 mx.example.org" + Environment.NewLine);
        for (var batch = 0; batch < 2; batch++)
        {
            for (var i = 0; i < 3000; i++)
            {
                var line = $"{batch}:{i} " + new string((char)('a' + (i % 26)), i % 40) + "\u00fc";
                writer.WriteLine(line);
                expected.Append(line).Append(Environment.NewLine);
            }

            writer.Flush();
        }

        Assert.Equal(Encoding.UTF8.GetBytes(expected.ToString()), file.ToArray());
    }

    [Fact]
    public void Buffer_Grows_Keeping_Its_Content_And_Is_Empty_After_Release()
    {
        var buffer = new TranscriptBuffer();
        "abc"u8.CopyTo(buffer.GetSpan(3));
        buffer.Advance(3);
        var large = buffer.GetSpan(100_000);
        Assert.True(large.Length >= 100_000);
        large[0] = (byte)'d';
        buffer.Advance(1);
        Assert.Equal("abcd"u8.ToArray(), buffer.WrittenSpan.ToArray());

        buffer.Release();
        Assert.Equal(0, buffer.WrittenCount);
        Assert.True(buffer.WrittenSpan.IsEmpty);
        Assert.Throws<InvalidOperationException>(() => buffer.Advance(1));
        "x"u8.CopyTo(buffer.GetSpan());
        buffer.Advance(1);
        Assert.Equal("x"u8.ToArray(), buffer.WrittenSpan.ToArray());
    }
}
