using System.Buffers;

namespace SmtpLens.Tests.Support;

/// <summary>The replay driver's own guarantees: if these broke, every dialogue test would prove less.</summary>
public sealed class DialogueScriptTests
{
    [Fact]
    public void Parse_EveryStepForm_GivesTheIntendedBytes()
    {
        var script = DialogueScript.Parse("forms", "# comment\n\nS: 220 hi\r\nC:\nC> a\\r\\n\\0\\x7F\\\\\nC# 00 ff 0d0a\nC! close\n");

        Assert.Equal([Peer.Server, Peer.Client, Peer.Client, Peer.Client, Peer.Client], script.Steps.Select(s => s.Peer));
        Assert.Equal([':', ':', '>', '#', '!'], script.Steps.Select(s => s.Form));
        Assert.Equal("220 hi\r\n"u8.ToArray(), script.Steps[0].Bytes);
        Assert.Equal("\r\n"u8.ToArray(), script.Steps[1].Bytes);
        Assert.Equal([(byte)'a', 13, 10, 0, 0x7F, (byte)'\\'], script.Steps[2].Bytes);
        Assert.Equal([0x00, 0xFF, 0x0D, 0x0A], script.Steps[3].Bytes);
        Assert.True(script.Steps[4].IsClose);
        Assert.Empty(script.Steps[4].Bytes);
        Assert.Equal([3, 4, 5, 6, 7], script.Steps.Select(s => s.SourceLine));
    }

    [Theory]
    [InlineData("X: nope")]
    [InlineData("C? what")]
    [InlineData("C! open")]
    [InlineData("C> \\q")]
    public void Parse_UnknownStep_Throws(string line)
    {
        Assert.Throws<FormatException>(() => DialogueScript.Parse("bad", line));
    }

    [Fact]
    public void Turns_MergeConsecutiveStepsOfOnePeer()
    {
        var script = DialogueScript.Parse("turns", "S: 220 a\nS: 220 b\nC: EHLO\nC> x\nS! close\nC! close");

        Assert.Equal(
            [(Peer.Server, "220 a\r\n220 b\r\n", false), (Peer.Client, "EHLO\r\nx", false), (Peer.Server, string.Empty, true), (Peer.Client, string.Empty, true)],
            script.Turns.Select(t => (t.Peer, System.Text.Encoding.ASCII.GetString(t.Bytes), t.IsClose)));
    }

    [Theory]
    [InlineData(FeedMode.Whole, 1)]
    [InlineData(FeedMode.Line, 3)]
    [InlineData(FeedMode.Byte, 19)]
    [InlineData(FeedMode.Segmented, 1)]
    public void Reads_AnyMode_CoverTheTurnExactlyOnce(FeedMode mode, int expectedReads)
    {
        var bytes = "EHLO a\r\nNOOP\r\nQUIT\r"u8.ToArray();

        var reads = DialogueReplayer.Reads(bytes, mode, new Random(1)).ToList();

        Assert.Equal(expectedReads, reads.Count);
        Assert.Equal(bytes, reads.SelectMany(r => r).SelectMany(m => m.ToArray()));
        if (mode == FeedMode.Segmented)
        {
            Assert.Equal([1, 2, 3, 5, 8], reads[0].Select(m => m.Length));
        }
    }

    [Fact]
    public void BufferSegment_Sequence_KeepsEveryChunkAsASegment()
    {
        var sequence = BufferSegment.Sequence("abcdefg"u8.ToArray(), 1, 2);

        Assert.False(sequence.IsSingleSegment);
        Assert.Equal(7, sequence.Length);
        var segments = new List<string>();
        foreach (var memory in sequence)
        {
            segments.Add(System.Text.Encoding.ASCII.GetString(memory.Span));
        }

        Assert.Equal(["a", "bc", "d", "ef", "g"], segments);
        Assert.Equal("cdef", System.Text.Encoding.ASCII.GetString(sequence.Slice(2, 4).ToArray()));
    }

    [Fact]
    public void EmbeddedNames_LoadAndEndWithBothSidesClosing()
    {
        Assert.All(DialogueScript.EmbeddedNames(), name =>
        {
            var script = DialogueScript.Load(name);
            Assert.NotEmpty(script.ClientBytes);
            Assert.NotEmpty(script.ServerBytes);
            Assert.True(script.Steps[^1].IsClose && script.Steps[^2].IsClose, name);
        });
    }
}
