using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.StateMachine;

/// <summary>What each recorded dialogue must make the tracker see, in every feed mode.</summary>
public sealed class RecordedDialogueTests
{
    public static TheoryData<FeedMode> Modes() => [.. DialogueReplayer.AllModes];

    [Theory]
    [MemberData(nameof(Modes))]
    public void Postfix_AnyMode_SeesCommandsRepliesCapabilitiesAndMessage(FeedMode mode)
    {
        var result = DialogueReplayer.Run("postfix-esmtp", mode);
        var t = result.Transcript;

        Assert.Equal(["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"], t.CommandVerbs);
        Assert.Equal([220, 250, 250, 250, 250, 354, 250, 221], t.ReplyCodes);
        Assert.Equal("client.example.com", result.Dialogue.ClientHelo);
        Assert.Equal("mx.example.org ESMTP Postfix (Debian/GNU)", result.Dialogue.Greeting!.Lines[0].Text);
        var ehlo = result.Dialogue.UpstreamEhlo!;
        Assert.Equal("mx.example.org", ehlo.Domain);
        Assert.Equal(
            ["PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"],
            ehlo.Keywords.Select(k => k.Keyword));
        Assert.Equal("10240000", ehlo.Keywords.Single(k => k.Keyword == "SIZE").Parameters);

        var content = Bytes.Ascii(
            "From: Alice <alice@example.com>\r\n" +
            "To: Bob <bob@example.org>, Carol <carol@example.org>\r\n" +
            "Subject: quarterly numbers\r\n" +
            "Message-ID: <20251117101500.1234@client.example.com>\r\n" +
            "\r\n" +
            "Hi both,\r\n" +
            ".this line keeps one leading dot in the mailbox\r\n" +
            ".\r\n" +
            "Alice\r\n");
        var tx = Assert.Single(result.Dialogue.Transactions);
        Assert.Equal("<alice@example.com>", tx.MailFrom);
        Assert.Equal(2, tx.RecipientsAccepted);
        Assert.Equal("DATA", tx.Method);
        Assert.Equal(content.Length, tx.Size);
        Assert.Equal(Bytes.Sha256Hex(content), tx.Sha256);
        Assert.Equal(250, tx.FinalReply!.Code);
        Assert.True(tx.Accepted);

        var summary = Assert.Single(t.OfKind(EventKinds.Transaction));
        Assert.Equal("<alice@example.com>", summary.Get("mailFrom"));
        Assert.Equal(2, summary.Get("recipients"));
        Assert.Equal((long)content.Length, summary.Get("size"));
        Assert.Equal(Bytes.Sha256Hex(content), summary.Get("sha256"));
        Assert.Equal(250, summary.Get("code"));

        var message = Assert.Single(t.OfKind(EventKinds.Message));
        Assert.Equal(Bytes.Sha256Hex(content), message.Get("sha256"));
        Assert.Equal(
            "From: Alice <alice@example.com>\nTo: Bob <bob@example.org>, Carol <carol@example.org>\nSubject: quarterly numbers\nMessage-ID: <20251117101500.1234@client.example.com>",
            message.Get("headers"));
        Assert.Contains(DialogueStep.AwaitReply, result.Client.Steps);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ExchangeOnlineProtection_AnyMode_ParsesTheSeedEhloReply(FeedMode mode)
    {
        var result = DialogueReplayer.Run("exchange-eop-seed000", mode);

        var ehlo = result.Dialogue.UpstreamEhlo!;
        Assert.Equal("SN1NAM02FT021.mail.protection.outlook.com", ehlo.Domain);
        Assert.Equal("Hello [1.2.3.4]", ehlo.Greeting);
        Assert.Equal(
            [
                "250-SN1NAM02FT021.mail.protection.outlook.com Hello [1.2.3.4]",
                "250-SIZE 157286400",
                "250-PIPELINING",
                "250-DSN",
                "250-ENHANCEDSTATUSCODES",
                "250-AUTH",
                "250-8BITMIME",
                "250-BINARYMIME",
                "250 CHUNKING",
            ],
            ehlo.RawLines);
        Assert.Equal(
            ["SIZE", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "AUTH", "8BITMIME", "BINARYMIME", "CHUNKING"],
            ehlo.Keywords.Select(k => k.Keyword));
        Assert.Equal(ehlo.RawLines.Skip(1), ehlo.Keywords.Select(k => k.RawLine));
        Assert.Equal("157286400", ehlo.Keywords[0].Parameters);
        Assert.All(ehlo.Keywords.Skip(1), k => Assert.Equal(string.Empty, k.Parameters));

        // The point of the seed: STARTTLS was withdrawn, and the transcript must make that visible.
        Assert.False(ehlo.Has("STARTTLS"));
        Assert.True(ehlo.Has("chunking"));
        var capabilities = Assert.Single(result.Transcript.OfKind(EventKinds.Ehlo));
        Assert.Equal("upstream capabilities: SIZE, PIPELINING, DSN, ENHANCEDSTATUSCODES, AUTH, 8BITMIME, BINARYMIME, CHUNKING", capabilities.Text);
        Assert.Equal("SN1NAM02FT021.mail.protection.outlook.com", capabilities.Get("domain"));
        var keywords = Assert.IsType<List<Dictionary<string, string>>>(capabilities.Get("keywords"));
        Assert.Equal(ehlo.RawLines.Skip(1), keywords.Select(k => k["raw"]));
        Assert.Equal(["EHLO", "QUIT"], result.Transcript.CommandVerbs);
        Assert.Equal([220, 250, 221], result.Transcript.ReplyCodes);
        Assert.Equal(Enumerable.Repeat(250, 9), result.Transcript.ReplyLineCodes.Skip(1).Take(9));
        Assert.Empty(result.Dialogue.Transactions);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Exim_AnyMode_CountsRefusedRecipient(FeedMode mode)
    {
        var result = DialogueReplayer.Run("exim", mode);

        Assert.Equal(["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"], result.Transcript.CommandVerbs);
        Assert.Equal([220, 250, 250, 550, 250, 354, 250, 221], result.Transcript.ReplyCodes);
        Assert.Equal(
            ["SIZE", "8BITMIME", "PIPELINING", "PIPECONNECT", "CHUNKING", "PRDR", "HELP"],
            result.Dialogue.UpstreamEhlo!.Keywords.Select(k => k.Keyword));
        Assert.Equal("Hello client.example.com [192.0.2.10]", result.Dialogue.UpstreamEhlo.Greeting);
        var tx = Assert.Single(result.Dialogue.Transactions);
        var content = Bytes.Ascii("Subject: exim test\r\n\r\none line of body\r\n");
        Assert.Equal((1, 1), (tx.RecipientsAccepted, tx.RecipientsRejected));
        Assert.Equal(Bytes.Sha256Hex(content), tx.Sha256);
        Assert.Equal(content.Length, tx.Size);
        Assert.Equal("transaction 1: MAIL FROM:<sender@example.com> rcpt=1 (+1 refused) DATA 40 bytes -> 250 OK id=1vLxyz-000ABC-1Q", tx.Describe());
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Pipelined_AnyMode_MatchesRepliesToCommandsInOrder(FeedMode mode)
    {
        var result = DialogueReplayer.Run("pipelined", mode);

        Assert.Equal(["EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA", "QUIT"], result.Transcript.CommandVerbs);
        Assert.Equal([220, 250, 250, 250, 550, 250, 354, 250, 250, 250, 250, 354, 250, 221], result.Transcript.ReplyCodes);

        // Two DATA commands, each followed by a pause for 354, whatever the read size.
        Assert.Equal(2, result.Client.Steps.Count(s => s == DialogueStep.AwaitReply));
        var first = Bytes.Ascii("Subject: first\r\n\r\nfirst message\r\n");
        var second = Bytes.Ascii("Subject: second\r\n\r\nsecond message\r\n");
        Assert.Collection(
            result.Dialogue.Transactions,
            tx =>
            {
                Assert.Equal("<list@example.com>", tx.MailFrom);
                Assert.Equal((2, 1), (tx.RecipientsAccepted, tx.RecipientsRejected));
                Assert.Equal(Bytes.Sha256Hex(first), tx.Sha256);
                Assert.Equal("250 2.0.0 Ok: queued as 4dQx1B2kZzzA", tx.FinalReply!.RawLines[^1]);
            },
            tx =>
            {
                Assert.Equal("<>", tx.MailFrom);
                Assert.Equal((1, 0), (tx.RecipientsAccepted, tx.RecipientsRejected));
                Assert.Equal(Bytes.Sha256Hex(second), tx.Sha256);
                Assert.Equal(second.Length, tx.Size);
                Assert.Equal("250 2.0.0 Ok: queued as 4dQx1B2kZzzB", tx.FinalReply!.RawLines[^1]);
            });
        Assert.Equal([1, 2], result.Transcript.OfKind(EventKinds.Transaction).Select(e => (int)e.Get("transaction")!));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void BdatBinary_AnyMode_TakesChunksAsOpaqueCounts(FeedMode mode)
    {
        var script = DialogueScript.Load("bdat-binary");
        // In this script only the chunk payloads are written as hex (C#) steps.
        byte[] content = [.. script.Steps.Where(s => s.Form == '#').SelectMany(s => s.Bytes)];

        var result = DialogueReplayer.Run(script, mode);

        Assert.Equal(104, content.Length);
        // The chunks hold "\r\n.\r\n", "QUIT\r\n", "MAIL FROM:" and "BDAT 10\r\n": none may be taken for a command.
        Assert.Equal(["EHLO", "MAIL", "RCPT", "BDAT", "BDAT", "QUIT"], result.Transcript.CommandVerbs);
        Assert.Equal([220, 250, 250, 250, 250, 250, 221], result.Transcript.ReplyCodes);
        var tx = Assert.Single(result.Dialogue.Transactions);
        Assert.Equal("BDAT", tx.Method);
        Assert.Equal(104, tx.Size);
        Assert.Equal(Bytes.Sha256Hex(content), tx.Sha256);
        Assert.Equal("250 2.0.0 Ok: 104 octets, queued as 4dQx1B2kZzzC", tx.FinalReply!.RawLines[^1]);
        var message = Assert.Single(result.Transcript.OfKind(EventKinds.Message));
        Assert.Equal("BDAT", message.Get("method"));
        Assert.Equal("Subject: bin", message.Get("headers"));
        Assert.DoesNotContain(DialogueStep.AwaitReply, result.Client.Steps);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void AuthLogin_AnyMode_RecordsTwoRedactedResponses(FeedMode mode)
    {
        var result = DialogueReplayer.Run("auth-login", mode);

        Assert.Equal(["EHLO", "AUTH", "MAIL", "QUIT"], result.Transcript.CommandVerbs);
        Assert.Equal([220, 250, 334, 334, 235, 250, 221], result.Transcript.ReplyCodes);
        Assert.Equal(
            ["<redacted SASL response, 24 bytes>", "<redacted SASL response, 24 bytes>"],
            result.Transcript.OfKind(EventKinds.AuthResponse).Select(e => e.Text));
        Assert.Equal("AUTH LOGIN", result.Transcript.OfKind(EventKinds.Command).Single(e => (string)e.Get("verb")! == "AUTH").Text);
        // After 235 the client is back to commands: MAIL is a command, not a third SASL response.
        Assert.Equal("MAIL FROM:<alice@example.com>", result.Transcript.OfKind(EventKinds.Command).Single(e => (string)e.Get("verb")! == "MAIL").Text);
    }
}
