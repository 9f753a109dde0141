using SmtpLens.Protocol;
using SmtpLens.StateMachine;

namespace SmtpLens.Tests.StateMachine;

public sealed class TransactionTests
{
    [Fact]
    public void Describe_Accepted_NamesSenderRecipientsSizeAndReply()
    {
        var tx = new Transaction(3, "<a@example.com>") { RecipientsAccepted = 2, RecipientsRejected = 1, Method = "BDAT", Size = 1234 };
        tx.FinalReply = new SmtpReply([new ReplyLine(250, true, "2.0.0 Ok")], ["250 2.0.0 Ok"]);

        Assert.Equal("transaction 3: MAIL FROM:<a@example.com> rcpt=2 (+1 refused) BDAT 1234 bytes -> 250 2.0.0 Ok", tx.Describe());
        Assert.True(tx.Accepted);
    }

    [Fact]
    public void Describe_Abandoned_SaysWhy()
    {
        var tx = new Transaction(1, "<>") { Abandoned = "RSET" };

        Assert.Equal("transaction 1: MAIL FROM:<> rcpt=0 -> RSET", tx.Describe());
        Assert.False(tx.Accepted);
    }

    [Fact]
    public void Describe_Open_SaysNoFinalReply()
    {
        Assert.Equal("transaction 7: MAIL FROM:<x@y> rcpt=0 -> no final reply", new Transaction(7, "<x@y>").Describe());
    }

    [Fact]
    public void Accepted_OnlyForAClassTwoFinalReply()
    {
        var tx = new Transaction(1, "<a@b>") { FinalReply = new SmtpReply([new ReplyLine(451, true, "later")], ["451 later"]) };

        Assert.False(tx.Accepted);
    }
}
