using System.Buffers;
using System.Text;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.StateMachine;

/// <summary>Broken peers: bad line endings, NULs, over-long lines, mid-line closes, bad BDAT, odd replies.</summary>
public sealed class MalformedDialogueTests
{
    private const string Greeted = """
        S: 220 mx.example.org ESMTP
        C: EHLO client.example.com
        S: 250-mx.example.org
        S: 250 PIPELINING
        """;

    public static TheoryData<FeedMode> Modes() => [.. DialogueReplayer.AllModes];

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_BareLfCommand_IsACommandWithAnAnomaly(FeedMode mode)
    {
        var result = Replay(mode, Greeted, @"C> MAIL FROM:<a@example.com>\n", "S: 250 2.1.0 Ok");

        var mail = result.Transcript.OfKind(EventKinds.Command).Last();
        Assert.Equal("MAIL", mail.Get("verb"));
        Assert.Equal("MAIL FROM:<a@example.com>", mail.Text);
        var anomaly = Assert.Single(result.Transcript.OfKind(EventKinds.Anomaly));
        Assert.Equal("command-syntax", anomaly.Get("anomaly"));
        Assert.Equal("client", anomaly.Get("leg"));
        Assert.Contains("bare LF line ending", anomaly.Text, StringComparison.Ordinal);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
        Assert.Equal("<a@example.com>", Assert.Single(result.Dialogue.Transactions).MailFrom);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_BareCrInsideCommand_StaysOneLineWithAnAnomaly(FeedMode mode)
    {
        var result = Replay(mode, Greeted, @"C> RSET\rQUIT\r\n", "S: 250 2.0.0 Ok");

        var command = result.Transcript.OfKind(EventKinds.Command).Last();
        Assert.Equal(@"RSET\rQUIT", command.Text);
        // The verb is escaped like the text, so no control byte reaches a transcript field.
        Assert.Equal(@"RSET\rQUIT", command.Get("verb"));
        Assert.Contains("bare CR", result.Transcript.OfKind(EventKinds.Anomaly).Single().Text, StringComparison.Ordinal);
        Assert.False(result.Dialogue.QuitAcknowledged);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_NulInCommand_IsEscapedAndFlagged(FeedMode mode)
    {
        var result = Replay(mode, Greeted, @"C> NOOP a\0b\r\n", "S: 250 2.0.0 Ok");

        Assert.Equal(@"NOOP a\0b", result.Transcript.OfKind(EventKinds.Command).Last().Text);
        Assert.Contains("NUL byte", result.Transcript.OfKind(EventKinds.Anomaly).Single().Text, StringComparison.Ordinal);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseServer_BareLfAndNulInReply_AreFlaggedAndTheReplyStillCounts(FeedMode mode)
    {
        var result = Replay(
            mode,
            "S: 220 mx.example.org ESMTP",
            "C: EHLO client.example.com",
            @"S> 250-mx.example.org\n",
            @"S> 250-8BIT\rMIME\r\n",
            @"S> 250 SIZE\0 1000\r\n",
            "C: QUIT",
            "S: 221 bye");

        Assert.Equal(["reply-syntax", "reply-syntax", "reply-syntax"], result.Transcript.AnomalyCodes);
        Assert.All(result.Transcript.OfKind(EventKinds.Anomaly), e => Assert.Equal("upstream", e.Get("leg")));
        Assert.Contains("bare LF line ending", result.Transcript.OfKind(EventKinds.Anomaly).First().Text, StringComparison.Ordinal);
        Assert.Contains("bare CR", result.Transcript.OfKind(EventKinds.Anomaly).ElementAt(1).Text, StringComparison.Ordinal);
        Assert.Contains("NUL byte", result.Transcript.OfKind(EventKinds.Anomaly).Last().Text, StringComparison.Ordinal);
        Assert.Equal([@"8BIT\RMIME", @"SIZE\0"], result.Dialogue.UpstreamEhlo!.Keywords.Select(k => k.Keyword));
        Assert.True(result.Dialogue.QuitAcknowledged);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseServer_LineWithoutCode_IsAMalformedReplyAndDoesNotCountAsAnAnswer(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: NOOP", "S: hello there", "S: 250 2.0.0 Ok");

        var malformed = result.Transcript.OfKind(EventKinds.Reply).Single(e => e.Get("malformed") is true);
        Assert.Equal("hello there", malformed.Text);
        Assert.Equal(["reply-syntax"], result.Transcript.AnomalyCodes);
        Assert.Equal([220, 250, 250], result.Transcript.ReplyCodes);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_OverLongLine_EndsWithoutConsumingAnyOfIt(FeedMode mode)
    {
        var longLine = "NOOP " + new string('A', 200) + @"\r\nQUIT\r\n";

        var result = Replay(mode, new DialogueOptions { MaxLineLength = 64 }, Greeted, "C> RSET\\r\\n" + longLine, "S: 250 2.0.0 Ok");

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.CommandLineTooLong), result.Client.Final);
        var before = DialogueScript.Parse("t", Greeted).ClientBytes.Concat(Bytes.Ascii("RSET\r\n")).ToArray();
        Assert.Equal(before, result.Client.Forwarded);
        Assert.StartsWith("NOOP AAAA", Encoding.ASCII.GetString(result.Client.Unconsumed), StringComparison.Ordinal);
        Assert.DoesNotContain("NOOP", result.Transcript.CommandVerbs);
        var limit = Assert.Single(result.Transcript.OfKind(EventKinds.Limit));
        Assert.Equal(Direction.Proxy, limit.Direction);
        Assert.Equal("max-line-length", limit.Get("limit"));
        Assert.Equal(64, limit.Get("value"));
    }

    [Theory]
    [InlineData(64, false)]
    [InlineData(65, true)]
    public void ParseClient_LineAtOrOverTheLimit_IsAcceptedOrEndsTheSession(int lineLength, bool tooLong)
    {
        var line = "NOOP " + new string('x', lineLength - 7) + "\r\n";
        Assert.Equal(lineLength, line.Length);
        foreach (var mode in DialogueReplayer.AllModes)
        {
            var result = Replay(mode, new DialogueOptions { MaxLineLength = 64 }, Greeted, "C> " + line.Replace("\r\n", @"\r\n", StringComparison.Ordinal));

            Assert.Equal(tooLong, result.Client.Final is { Reason: SessionEndReason.CommandLineTooLong });
            Assert.Equal(tooLong ? 1 : 2, result.Transcript.CommandVerbs.Count);
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseServer_OverLongReplyLine_EndsWithoutConsumingAnyOfIt(FeedMode mode)
    {
        var result = Replay(
            mode,
            new DialogueOptions { MaxLineLength = 80 },
            "S: 220 mx.example.org ESMTP",
            "C: EHLO client.example.com",
            "S: 250-mx.example.org",
            "S: 250-" + new string('K', 300),
            "S: 250 CHUNKING");

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.ReplyLineTooLong), result.Server.Final);
        Assert.Equal(Bytes.Ascii("220 mx.example.org ESMTP\r\n250-mx.example.org\r\n"), result.Server.Forwarded);
        Assert.StartsWith("250-" + new string('K', 60), Encoding.ASCII.GetString(result.Server.Unconsumed), StringComparison.Ordinal);
        Assert.Equal("reply line longer than 80 bytes; session ended, nothing of the line was forwarded", result.Transcript.OfKind(EventKinds.Limit).Single().Text);
        Assert.Null(result.Dialogue.UpstreamEhlo);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseServer_MixedCodes_AreFlaggedAndTheLastLineDecides(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250-2.1.0 first", "S: 550 5.7.1 second");

        Assert.Equal(["mixed-reply-codes"], result.Transcript.AnomalyCodes);
        Assert.Contains("250/550", result.Transcript.OfKind(EventKinds.Anomaly).Single().Text, StringComparison.Ordinal);
        var tx = Assert.Single(result.Dialogue.Transactions);
        Assert.Equal(550, tx.FinalReply!.Code);
        Assert.True(tx.FinalReply.HasMixedCodes);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_ClosedMidLine_EndsWithAnErrorAndForwardsNothingOfTheLine(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C> MAIL FROM:<a@exa", "C! close");

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.ClientClosedMidLine), result.Client.Final);
        Assert.Equal(DialogueScript.Parse("t", Greeted).ClientBytes, result.Client.Forwarded);
        Assert.Equal("MAIL FROM:<a@exa", Encoding.ASCII.GetString(result.Client.Unconsumed));
        var error = Assert.Single(result.Transcript.OfKind(EventKinds.Error));
        Assert.Equal("client closed the connection mid-line after 16 bytes without a line end: MAIL FROM:<a@exa", error.Text);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_ClosedBetweenCommands_IsAPlainClose(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C! close");

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.ClientClosed), result.Client.Final);
        Assert.Empty(result.Transcript.OfKind(EventKinds.Error));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseServer_ClosedMidLine_EndsWithAnError(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: NOOP", "S> 250 2.0.0 O", "S! close");

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.UpstreamClosedMidLine), result.Server.Final);
        Assert.Equal("upstream closed the connection in the middle of a reply (11 bytes without a line end)", result.Transcript.OfKind(EventKinds.Error).Single().Text);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseServer_ClosedInsideMultiLineReply_EndsMidLineEvenAtALineEnd(FeedMode mode)
    {
        var result = Replay(mode, "S: 220 mx ESMTP", "C: EHLO c", "S: 250-mx.example.org", "S: 250-PIPELINING", "S! close");

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.UpstreamClosedMidLine), result.Server.Final);
        Assert.Contains("(0 bytes without a line end)", result.Transcript.OfKind(EventKinds.Error).Single().Text, StringComparison.Ordinal);
        Assert.Equal(result.Server.Received, result.Server.Forwarded);
    }

    [Theory]
    [InlineData("BDAT abc")]
    [InlineData("BDAT -5")]
    [InlineData("BDAT +5")]
    [InlineData("BDAT 99999999999999")]
    [InlineData("BDAT 1099511627777")]
    [InlineData("BDAT 10 LSAT")]
    [InlineData("BDAT 10 LAST extra")]
    [InlineData("BDAT")]
    [InlineData("BDAT 0x10")]
    public void ParseClient_BdatWithUnusableLength_IsFlaggedAndStaysInCommandMode(string command)
    {
        foreach (var mode in DialogueReplayer.AllModes)
        {
            var result = Replay(mode, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250 Ok", "C: RCPT TO:<b@example.org>", "S: 250 Ok", "C: " + command, "C: QUIT", "S: 501 5.5.4 Syntax error", "S: 221 Bye");

            Assert.Equal(["bdat-length"], result.Transcript.AnomalyCodes);
            Assert.Equal(ClientMode.Command, result.Dialogue.Mode);
            // With no usable length the next line is all the tracker can go by: a command.
            Assert.Equal("QUIT", result.Transcript.CommandVerbs[^1]);
            Assert.True(result.Dialogue.QuitAcknowledged);
            Assert.Empty(result.Transcript.OfKind(EventKinds.Message));
        }
    }

    [Theory]
    [InlineData("BDAT 1099511627776 LAST")]
    [InlineData("BDAT 0 last")]
    [InlineData("BDAT  7   LAST")]
    public void ParseClient_BdatWithUsableLength_IsNotFlagged(string command)
    {
        var result = Replay(FeedMode.Whole, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250 Ok", "C: RCPT TO:<b@example.org>", "S: 250 Ok", "C: " + command);

        Assert.Empty(result.Transcript.AnomalyCodes);
        Assert.Equal("BDAT", result.Transcript.CommandVerbs[^1]);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_BdatLongerThanWhatArrives_EndsMidMessageOnClose(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250 Ok", "C: RCPT TO:<b@example.org>", "S: 250 Ok", "C: BDAT 100 LAST", "C> 0123456789", "C! close");

        Assert.Equal(new DialogueResult(DialogueStep.End, SessionEndReason.ClientClosedMidMessage), result.Client.Final);
        Assert.Equal(ClientMode.Bdat, result.Dialogue.Mode);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
        Assert.Equal(
            "client closed the connection in the middle of message content; the upstream never saw end-of-data and will discard it",
            result.Transcript.OfKind(EventKinds.Error).Single().Text);
        Assert.Empty(result.Transcript.OfKind(EventKinds.Message));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_ClosedDuringData_EndsMidMessage(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250 Ok", "C: RCPT TO:<b@example.org>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: Subject: cut", "C! close");

        Assert.Equal(SessionEndReason.ClientClosedMidMessage, result.Client.Final!.Value.Reason);
        Assert.Equal(ClientMode.Data, result.Dialogue.Mode);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseServer_UnsolicitedReply_IsFlagged(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "S: 250 2.0.0 nobody asked");

        Assert.Equal(["unsolicited-reply"], result.Transcript.AnomalyCodes);
        Assert.Equal("upstream sent 250 with no command outstanding", result.Transcript.OfKind(EventKinds.Anomaly).Single().Text);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ParseClient_EarlyTalker_IsFlaggedAndRepliesStillLineUp(FeedMode mode)
    {
        var result = Replay(mode, "C: EHLO impatient.example.com", "S: 220 mx.example.org ESMTP", "S: 250-mx.example.org", "S: 250 8BITMIME");

        Assert.Equal(["early-talker"], result.Transcript.AnomalyCodes);
        Assert.Equal("client sent EHLO before the upstream's greeting (RFC 5321 4.3.1)", result.Transcript.OfKind(EventKinds.Anomaly).Single().Text);
        Assert.Equal("mx.example.org ESMTP", result.Dialogue.Greeting!.Lines[0].Text);
        Assert.Equal("8BITMIME", result.Dialogue.UpstreamEhlo!.Keywords.Single().Keyword);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void StartTls_Answered220_UpgradesAndLeavesInjectedPlaintextUnconsumed(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: STARTTLS", "C: EHLO injected.example.com", "S: 220 2.0.0 Ready to start TLS", @"S> \x16\x03\x01");

        Assert.Equal(new DialogueResult(DialogueStep.TlsUpgrade), result.Server.Final);
        Assert.Equal(new DialogueResult(DialogueStep.TlsUpgrade), result.Client.Final);
        Assert.Equal(ClientMode.Tls, result.Dialogue.Mode);
        Assert.Equal("EHLO injected.example.com\r\n", Encoding.ASCII.GetString(result.Client.Received.AsSpan(result.Client.Forwarded.Length)));
        Assert.DoesNotContain(result.Transcript.OfKind(EventKinds.Command), e => e.Text.Contains("injected", StringComparison.Ordinal));
        Assert.Single(result.Transcript.OfKind(EventKinds.StartTls));
        // The TLS bytes after 220 are not SMTP: nothing of them is consumed as a reply.
        Assert.Equal(Bytes.Ascii("220 mx.example.org ESMTP\r\n250-mx.example.org\r\n250 PIPELINING\r\n220 2.0.0 Ready to start TLS\r\n"), result.Server.Forwarded);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void StartTls_Answered454_StaysInCommandMode(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: STARTTLS", "S: 454 4.7.0 TLS not available due to local problem", "C: MAIL FROM:<a@example.com>", "S: 250 Ok");

        Assert.Null(result.Client.Final);
        Assert.Equal(ClientMode.Command, result.Dialogue.Mode);
        Assert.Equal(["EHLO", "STARTTLS", "MAIL"], result.Transcript.CommandVerbs);
        Assert.Empty(result.Transcript.OfKind(EventKinds.StartTls));
        // After a refused STARTTLS the session is still identified, so MAIL is in sequence.
        Assert.Empty(result.Transcript.AnomalyCodes);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Data_Answered554_ReturnsToCommandModeAndTheNextLineIsACommand(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250 Ok", "C: RCPT TO:<b@example.org>", "S: 250 Ok", "C: DATA", "S: 554 5.5.1 No valid recipients", "C: RSET", "S: 250 Ok");

        Assert.Equal(ClientMode.Command, result.Dialogue.Mode);
        Assert.Equal(["EHLO", "MAIL", "RCPT", "DATA", "RSET"], result.Transcript.CommandVerbs);
        var tx = Assert.Single(result.Dialogue.Transactions);
        Assert.Equal(554, tx.FinalReply!.Code);
        Assert.False(tx.Accepted);
        Assert.Empty(result.Transcript.OfKind(EventKinds.Message));
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Data_SmugglingPattern_IsReportedAndTheSmuggledCommandIsContent(FeedMode mode)
    {
        var result = Replay(
            mode,
            Greeted,
            "C: MAIL FROM:<a@example.com>",
            "S: 250 Ok",
            "C: RCPT TO:<b@example.org>",
            "S: 250 Ok",
            "C: DATA",
            "S: 354 go",
            @"C> Subject: one\r\n\r\nbody\n.\nMAIL FROM:<admin@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n\r\nforged\r\n.\r\n",
            "S: 250 2.0.0 Ok: queued as 1",
            "C: QUIT",
            "S: 221 Bye");

        Assert.Equal(["smuggling-pattern"], result.Transcript.AnomalyCodes);
        Assert.Equal("BareLfDot, BareLf", result.Transcript.OfKind(EventKinds.Message).Single().Get("contentAnomalies"));
        // What a bare-LF-accepting receiver would take for a second transaction stays inside the first message.
        Assert.Equal(["EHLO", "MAIL", "RCPT", "DATA", "QUIT"], result.Transcript.CommandVerbs);
        var content = Bytes.Ascii("Subject: one\r\n\r\nbody\n.\nMAIL FROM:<admin@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n\r\nforged\r\n");
        Assert.Equal(Bytes.Sha256Hex(content), Assert.Single(result.Dialogue.Transactions).Sha256);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Bdat_PipelinedChunksInOneRead_AreCutByTheirLengths(FeedMode mode)
    {
        var result = Replay(
            mode,
            Greeted,
            @"C> MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nBDAT 5\r\nhelloBDAT 9\r\n\r\n.\r\nQUITBDAT 0 LAST\r\nNOOP\r\n",
            "S: 250 Ok",
            "S: 250 Ok",
            "S: 250 5 octets",
            "S: 250 9 octets",
            "S: 250 2.0.0 Ok: queued",
            "S: 250 Ok");

        Assert.Equal(["EHLO", "MAIL", "RCPT", "BDAT", "BDAT", "BDAT", "NOOP"], result.Transcript.CommandVerbs);
        var tx = Assert.Single(result.Dialogue.Transactions);
        Assert.Equal(Bytes.Sha256Hex(Bytes.Ascii("hello\r\n.\r\nQUIT")), tx.Sha256);
        Assert.Equal(14, tx.Size);
        Assert.Equal("250 2.0.0 Ok: queued", tx.FinalReply!.RawLines[0]);
        Assert.Empty(result.Transcript.AnomalyCodes);
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
    }

    [Fact]
    public async Task ParseClient_AfterData_AwaitsReplyAndConsumesNothingMore()
    {
        var transcript = new RecordingTranscript();
        var dialogue = new SmtpDialogue(transcript, new DialogueOptions());
        var greeting = new ReadOnlySequence<byte>(Bytes.Ascii("220 mx ESMTP\r\n"));
        dialogue.ParseServer(ref greeting, false);
        var buffer = new ReadOnlySequence<byte>(Bytes.Ascii("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: early\r\n"));

        var first = dialogue.ParseClient(ref buffer, false);
        var again = buffer;
        var second = dialogue.ParseClient(ref again, false);
        var wait = dialogue.WaitForReplyAsync(CancellationToken.None);

        Assert.Equal(DialogueStep.AwaitReply, first.Step);
        Assert.Equal("Subject: early\r\n", Encoding.ASCII.GetString(buffer.ToArray()));
        Assert.Equal(DialogueStep.AwaitReply, second.Step);
        Assert.Equal(buffer.Length, again.Length);
        Assert.False(wait.IsCompleted);
        Assert.Equal(ClientMode.AwaitingReply, dialogue.Mode);

        var replies = new ReadOnlySequence<byte>(Bytes.Ascii("250 a\r\n250 b\r\n250 c\r\n354 go\r\n"));
        dialogue.ParseServer(ref replies, false);

        // The client pump wakes only once the upstream pump has forwarded the 354 and says so.
        Assert.False(wait.IsCompleted);
        Assert.Equal(ClientMode.Data, dialogue.Mode);
        dialogue.CompleteReleasedWait();
        Assert.True(wait.IsCompletedSuccessfully);
        Assert.Equal(DialogueStep.Continue, await wait);
    }

    [Fact]
    public async Task Close_WithOpenTransaction_MarksItAbandonedAndReleasesAWaitingPump()
    {
        var result = Replay(FeedMode.Whole, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250 Ok", "C: RCPT TO:<b@example.org>", "C: DATA");
        var wait = result.Dialogue.WaitForReplyAsync(CancellationToken.None);

        result.Dialogue.Close("IdleTimeout");

        Assert.Equal("IdleTimeout", Assert.Single(result.Dialogue.Transactions).Abandoned);
        Assert.True(wait.IsCompletedSuccessfully);
        Assert.Equal(DialogueStep.End, await wait);
        Assert.Equal(DialogueStep.End, await result.Dialogue.WaitForReplyAsync(CancellationToken.None));
    }

    private static ReplayResult Replay(FeedMode mode, params string[] scriptParts) => Replay(mode, new DialogueOptions(), scriptParts);

    private static ReplayResult Replay(FeedMode mode, DialogueOptions options, params string[] scriptParts) =>
        DialogueReplayer.Run(DialogueScript.Parse("inline", string.Join("\n", scriptParts)), mode, options);
}
