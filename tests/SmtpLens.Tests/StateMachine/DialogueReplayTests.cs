using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.StateMachine;

/// <summary>Every recorded dialogue, replayed whole, line by line, byte by byte and across segment boundaries.</summary>
public sealed class DialogueReplayTests
{
    public static TheoryData<string, FeedMode> DialoguesAndModes()
    {
        var data = new TheoryData<string, FeedMode>();
        foreach (var name in DialogueScript.EmbeddedNames())
        {
            foreach (var mode in DialogueReplayer.AllModes)
            {
                data.Add(name, mode);
            }
        }

        return data;
    }

    public static TheoryData<string, FeedMode> DialoguesAndSplittingModes()
    {
        var data = new TheoryData<string, FeedMode>();
        foreach (var name in DialogueScript.EmbeddedNames())
        {
            foreach (var mode in DialogueReplayer.AllModes.Where(m => m != FeedMode.Whole))
            {
                data.Add(name, mode);
            }
        }

        return data;
    }

    [Fact]
    public void EmbeddedDialogues_AreAllPresent()
    {
        Assert.Equal(
            ["auth-cram-md5", "auth-login", "auth-plain-continuation", "auth-plain-initial", "auth-xoauth2", "bdat-binary", "exchange-eop-seed000", "exim", "pipelined", "postfix-esmtp"],
            DialogueScript.EmbeddedNames());
    }

    [Theory]
    [MemberData(nameof(DialoguesAndModes))]
    public void Replay_AnyMode_ForwardsExactlyTheBytesReceived(string name, FeedMode mode)
    {
        var script = DialogueScript.Load(name);

        var result = DialogueReplayer.Run(script, mode);

        // The relay forwards what the dialogue consumed: that must be every byte, once, in order.
        Assert.Equal(script.ClientBytes, result.Client.Received);
        Assert.Equal(script.ServerBytes, result.Server.Received);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
        Assert.Equal(result.Server.Received, result.Server.Forwarded);
        Assert.Equal(script.ClientBytes.Length, result.Client.ConsumedSum);
        Assert.Equal(script.ServerBytes.Length, result.Server.ConsumedSum);
        Assert.Empty(result.Client.Unconsumed);
        Assert.Empty(result.Server.Unconsumed);
    }

    [Theory]
    [MemberData(nameof(DialoguesAndModes))]
    public void Replay_AnyMode_EndsWithAcknowledgedQuitAndNoAnomalies(string name, FeedMode mode)
    {
        var result = DialogueReplayer.Run(name, mode);

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.Quit), result.Client.Final);
        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.Quit), result.Server.Final);
        Assert.True(result.Dialogue.QuitAcknowledged);
        Assert.Empty(result.Transcript.AnomalyCodes);
        Assert.Empty(result.Transcript.OfKind(EventKinds.Error));
    }

    [Theory]
    [MemberData(nameof(DialoguesAndSplittingModes))]
    public void Replay_SplitReads_MatchWhole(string name, FeedMode mode)
    {
        var whole = DialogueReplayer.Run(name, FeedMode.Whole);

        var split = DialogueReplayer.Run(name, mode);

        Assert.Equal(whole.Events.Select(e => e.Signature), split.Events.Select(e => e.Signature));
        Assert.True(split.Client.ParseCalls >= whole.Client.ParseCalls, "splitting reads cannot need fewer parse calls");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Replay_ChunkedWithOtherSeeds_MatchesWhole(int seed)
    {
        foreach (var name in DialogueScript.EmbeddedNames())
        {
            var script = DialogueScript.Load(name);
            var whole = DialogueReplayer.Run(script, FeedMode.Whole);

            var chunked = DialogueReplayer.Run(script, FeedMode.Chunked, seed: seed * 7919);

            Assert.Equal(whole.Events.Select(e => e.Signature), chunked.Events.Select(e => e.Signature));
            Assert.Equal(script.ClientBytes, chunked.Client.Forwarded);
        }
    }

    [Fact]
    public void Replay_ByteMode_ParsesOncePerByte()
    {
        var script = DialogueScript.Load("postfix-esmtp");

        var result = DialogueReplayer.Run(script, FeedMode.Byte);

        // One parse per byte plus the final close: proof the driver really fed single bytes.
        Assert.Equal(script.ClientBytes.Length + 1, result.Client.ParseCalls);
        Assert.Equal(script.ServerBytes.Length + 1, result.Server.ParseCalls);
    }
}
