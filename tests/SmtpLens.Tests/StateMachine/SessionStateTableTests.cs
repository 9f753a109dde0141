using SmtpLens.Protocol;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.StateMachine;

public sealed class SessionStateTableTests
{
    [Theory]
    [InlineData(SessionPhase.Greeted, SmtpVerb.Ehlo, true)]
    [InlineData(SessionPhase.Greeted, SmtpVerb.Mail, false)]
    [InlineData(SessionPhase.Identified, SmtpVerb.Mail, true)]
    [InlineData(SessionPhase.Identified, SmtpVerb.Rcpt, false)]
    [InlineData(SessionPhase.Identified, SmtpVerb.Data, false)]
    [InlineData(SessionPhase.MailGiven, SmtpVerb.Rcpt, true)]
    [InlineData(SessionPhase.MailGiven, SmtpVerb.Data, false)]
    [InlineData(SessionPhase.MailGiven, SmtpVerb.Mail, false)]
    [InlineData(SessionPhase.RecipientsGiven, SmtpVerb.Data, true)]
    [InlineData(SessionPhase.RecipientsGiven, SmtpVerb.Bdat, true)]
    [InlineData(SessionPhase.Chunking, SmtpVerb.Bdat, true)]
    [InlineData(SessionPhase.Chunking, SmtpVerb.Data, false)]
    [InlineData(SessionPhase.Chunking, SmtpVerb.Mail, false)]
    [InlineData(SessionPhase.Quitting, SmtpVerb.Noop, false)]
    [InlineData(SessionPhase.AwaitingGreeting, SmtpVerb.Ehlo, false)]
    public void IsLegal_FollowsRfc5321Sequence(object phase, object verb, bool legal)
    {
        Assert.Equal(legal, SessionStateTable.IsLegal((SessionPhase)phase, (SmtpVerb)verb));
    }

    [Fact]
    public void IsLegal_UnknownVerb_IsNeverFlagged()
    {
        Assert.All(Enum.GetValues<SessionPhase>(), phase => Assert.True(SessionStateTable.IsLegal(phase, SmtpVerb.Unknown)));
    }

    [Fact]
    public void IsLegal_AnytimeVerbs_AreLegalFromGreetedToRecipients()
    {
        SmtpVerb[] anytime = [SmtpVerb.Noop, SmtpVerb.Rset, SmtpVerb.Quit, SmtpVerb.Help, SmtpVerb.Vrfy, SmtpVerb.Expn];
        SessionPhase[] phases = [SessionPhase.Greeted, SessionPhase.Identified, SessionPhase.MailGiven, SessionPhase.RecipientsGiven];

        Assert.All(phases, phase => Assert.All(anytime, verb => Assert.True(SessionStateTable.IsLegal(phase, verb), $"{verb} in {phase}")));
    }

    [Theory]
    [InlineData(SessionPhase.Greeted, SmtpVerb.Ehlo, SessionPhase.Identified)]
    [InlineData(SessionPhase.RecipientsGiven, SmtpVerb.Helo, SessionPhase.Identified)]
    [InlineData(SessionPhase.AwaitingGreeting, SmtpVerb.Ehlo, SessionPhase.AwaitingGreeting)]
    [InlineData(SessionPhase.Identified, SmtpVerb.Mail, SessionPhase.MailGiven)]
    [InlineData(SessionPhase.Greeted, SmtpVerb.Mail, SessionPhase.Greeted)]
    [InlineData(SessionPhase.MailGiven, SmtpVerb.Rcpt, SessionPhase.RecipientsGiven)]
    [InlineData(SessionPhase.RecipientsGiven, SmtpVerb.Rcpt, SessionPhase.RecipientsGiven)]
    [InlineData(SessionPhase.Identified, SmtpVerb.Rcpt, SessionPhase.Identified)]
    [InlineData(SessionPhase.RecipientsGiven, SmtpVerb.Bdat, SessionPhase.Chunking)]
    [InlineData(SessionPhase.Chunking, SmtpVerb.Rset, SessionPhase.Identified)]
    [InlineData(SessionPhase.Identified, SmtpVerb.StartTls, SessionPhase.Greeted)]
    [InlineData(SessionPhase.MailGiven, SmtpVerb.Quit, SessionPhase.Quitting)]
    [InlineData(SessionPhase.RecipientsGiven, SmtpVerb.Data, SessionPhase.RecipientsGiven)]
    public void After_MovesToTheNextPhase(object phase, object verb, object next)
    {
        Assert.Equal((SessionPhase)next, SessionStateTable.After((SessionPhase)phase, (SmtpVerb)verb));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Dialogue_RcptBeforeMail_IsFlaggedOutOfSequenceButForwarded(FeedMode mode)
    {
        var script = DialogueScript.Parse("rcpt-first", """
            S: 220 mx.example.org ESMTP
            C: EHLO client.example.com
            S: 250 mx.example.org
            C: RCPT TO:<bob@example.org>
            S: 503 5.5.1 Error: need MAIL command
            C: MAIL FROM:<alice@example.com>
            S: 250 2.1.0 Ok
            C: RCPT TO:<bob@example.org>
            S: 250 2.1.5 Ok
            """);

        var result = DialogueReplayer.Run(script, mode);

        var anomaly = Assert.Single(result.Transcript.OfKind(SmtpLens.Transcripts.EventKinds.Anomaly));
        Assert.Equal("out-of-sequence", anomaly.Get("anomaly"));
        Assert.Equal("RCPT is out of sequence after phase Identified", anomaly.Text);
        Assert.Equal(script.ClientBytes, result.Client.Forwarded);
        Assert.Equal(1, Assert.Single(result.Dialogue.Transactions).RecipientsAccepted);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Dialogue_DataWithoutRecipients_IsFlagged(FeedMode mode)
    {
        var result = DialogueReplayer.Run(DialogueScript.Parse("data-early", """
            S: 220 mx.example.org ESMTP
            C: HELO client.example.com
            S: 250 mx.example.org
            C: MAIL FROM:<alice@example.com>
            S: 250 Ok
            C: DATA
            S: 554 5.5.1 Error: no valid recipients
            """), mode);

        Assert.Equal(["out-of-sequence"], result.Transcript.AnomalyCodes);
        Assert.Null(result.Dialogue.UpstreamEhlo);
        Assert.Equal("client.example.com", result.Dialogue.ClientHelo);
    }

    public static TheoryData<FeedMode> Modes() => [.. DialogueReplayer.AllModes];
}
