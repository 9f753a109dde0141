using SmtpLens.Net;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.StateMachine;

/// <summary>Bugs the first unit-test pass found in the dialogue tracker; each stays fixed.</summary>
public sealed class FoundBugRegressionTests
{
    private const string Greeted = """
        S: 220 mx.example.org ESMTP
        C: EHLO client.example.com
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250 AUTH PLAIN LOGIN
        """;

    public static TheoryData<FeedMode> Modes() => [.. DialogueReplayer.AllModes];

    private static ReplayResult Replay(FeedMode mode, params string[] parts) =>
        DialogueReplayer.Run(DialogueScript.Parse("inline", string.Join("\n", parts)), mode, new DialogueOptions());

    private static string AllText(ReplayResult result) =>
        string.Join("\n", result.Transcript.Events.Select(e => e.Text + " " + string.Join(" ", (e.Data ?? new Dictionary<string, object?>()).Values)));

    [Theory]
    [MemberData(nameof(Modes))]
    public void ClientClosingMidSaslResponse_DoesNotLeakTheSecret(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C> czNjcjN0LVA0c3N3MHJkIQ==", "C! close");
        Assert.DoesNotContain("czNjcjN0LVA0c3N3MHJkIQ", AllText(result), StringComparison.Ordinal);
        Assert.Contains("<redacted partial AUTH data, 24 bytes>", AllText(result), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ClientClosingMidAuthCommand_DoesNotLeakTheInitialResponse(FeedMode mode)
    {
        var result = Replay(mode, Greeted, "C> AUTH PLAIN AGFsaWNlAHMzY3IzdA==", "C! close");
        Assert.DoesNotContain("AGFsaWNlAHMzY3IzdA", AllText(result), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void AuthInitialResponseAfterATab_IsRedacted(FeedMode mode)
    {
        var result = Replay(mode, Greeted, @"C> AUTH PLAIN\tAGFsaWNlAHMzY3IzdA==\r\n", "S: 235 2.7.0 ok");
        Assert.DoesNotContain("AGFsaWNlAHMzY3IzdA", AllText(result), StringComparison.Ordinal);
        Assert.Contains("<redacted initial response", AllText(result), StringComparison.Ordinal);
    }

    [Fact]
    public void RsetBeforeEhlo_DoesNotCountAsIdentification()
    {
        var result = Replay(FeedMode.Whole, "S: 220 mx.example.org ESMTP", "C: RSET", "S: 250 2.0.0 Ok", "C: MAIL FROM:<a@example.com>", "S: 503 5.5.1 send HELO first");
        Assert.Contains("out-of-sequence", result.Transcript.AnomalyCodes);
    }

    [Fact]
    public void MailAfterARefusedMail_IsNotOutOfSequence()
    {
        var result = Replay(FeedMode.Whole, Greeted, "C: MAIL FROM:<a@example.com>", "S: 552 5.3.4 too big", "C: MAIL FROM:<a@example.com>", "S: 250 2.1.0 Ok");
        Assert.DoesNotContain("out-of-sequence", result.Transcript.AnomalyCodes);
    }

    [Fact]
    public void MailAfterARefusedData_IsNotOutOfSequence()
    {
        var result = Replay(FeedMode.Whole, Greeted, "C: MAIL FROM:<a@example.com>", "S: 250 Ok", "C: RCPT TO:<b@example.com>", "S: 250 Ok", "C: DATA", "S: 554 5.5.1 no valid recipients", "C: MAIL FROM:<a@example.com>", "S: 250 Ok");
        Assert.DoesNotContain("out-of-sequence", result.Transcript.AnomalyCodes);
    }

    [Fact]
    public void MessageAcceptedAfterPipelinedMailRefusal_BelongsToThatTransaction()
    {
        var result = Replay(
            FeedMode.Whole,
            Greeted,
            "C: MAIL FROM:<a@example.com>",
            "C: RCPT TO:<b@example.com>",
            "C: DATA",
            "S: 550 5.7.1 sender refused",
            "S: 250 Ok",
            "S: 354 go ahead",
            "C: Subject: x",
            "C: ",
            "C: body",
            "C: .",
            "S: 250 2.0.0 queued");
        var transaction = Assert.Single(result.Dialogue.Transactions);
        Assert.Equal("<a@example.com>", transaction.MailFrom);
        Assert.Equal("DATA", transaction.Method);
        Assert.NotNull(transaction.Sha256);
        Assert.True(transaction.Size > 0);
    }

    [Fact]
    public void HostPort_EmptyBracketedHost_IsRejected() => Assert.False(HostPort.TryParse("[]:25", out _));

    [Fact]
    public void SessionIds_FromTwoGenerators_InTheSameMillisecond_Differ()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 5, 0, 0, TimeSpan.Zero));
        var a = new SessionIdGenerator(time).Next();
        var b = new SessionIdGenerator(time).Next();
        Assert.NotEqual(a, b);
    }
}
