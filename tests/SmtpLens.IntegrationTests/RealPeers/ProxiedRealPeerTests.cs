using System.Net;
using System.Runtime.Versioning;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.StateMachine;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>Real MTAs on both sides of SmtpLens: swaks or a Postfix smtp client, and a Postfix smtpd.</summary>
[SupportedOSPlatform("linux")]
public sealed class ProxiedRealPeerTests
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    private static Task<RelayFixture> ProxyTo(PostfixInstance postfix) =>
        RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, postfix.Port));

    private static byte[] Message(string subject) => PeerMessages.Sample(subject);

    [Fact]
    public async Task Swaks_Through_SmtpLens_To_Postfix_Delivers_Intact()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "upstream" });
        await using var proxy = await ProxyTo(postfix);
        var message = Message("swaks through SmtpLens");

        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions
        {
            From = "alice@client.test",
            To = ["bob@example.test"],
            Message = message,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal("alice@client.test", delivery.Sender);
        Assert.Equal("bob@example.test", delivery.Recipient);
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);

        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        Assert.Equal(SessionEndReason.Quit, summary.Reason);
        var transaction = Assert.Single(summary.Transactions);
        Assert.True(transaction.Accepted);
        Assert.Equal(message.Length, transaction.Size);
        Assert.Equal(TestMessages.Sha256(message), transaction.Sha256);
        Assert.Contains("PIPELINING", summary.UpstreamCapabilities);
        Assert.StartsWith("220 " + postfix.Hostname, summary.Banner, StringComparison.Ordinal);

        var log = proxy.ReadTranscript(summary.SessionId, ".log");
        Assert.Contains("C: EHLO swaks.client.test", log, StringComparison.Ordinal);
        Assert.Contains($"S: 250-{postfix.Hostname}", log, StringComparison.Ordinal);
        Assert.Contains("*   | Subject: swaks through SmtpLens", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Swaks_Pipelining_Through_SmtpLens_Matches_Replies()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "upstream" });
        await using var proxy = await ProxyTo(postfix);
        var message = Message("pipelined through SmtpLens");

        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions
        {
            To = ["one@example.test", "two@example.test", "three@example.test"],
            Message = message,
            Pipeline = true,
        });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var deliveries = await postfix.WaitForDeliveriesAsync(3, DeliveryTimeout);
        Assert.Equal(3, deliveries.Count);
        Assert.All(deliveries, d => Assert.Equal(PostfixInstance.StoredForm(message), d.Content));
        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        Assert.Equal(3, Assert.Single(summary.Transactions).RecipientsAccepted);
    }

    [Fact]
    public async Task Postfix_Smtp_Client_Relays_Through_SmtpLens_To_Postfix()
    {
        await using var target = await PostfixInstance.StartAsync(new PostfixOptions { Name = "target" });
        await using var proxy = await ProxyTo(target);
        await using var sender = await PostfixInstance.StartRelayAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new PostfixOptions { Name = "sender" });
        var message = Message("Postfix to Postfix through SmtpLens");

        var swaks = await Swaks.SendAsync(sender.Host, sender.Port, new SwaksOptions { From = "carol@client.test", To = ["dave@example.test"], Message = message });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await target.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        await sender.WaitForLogLinesAsync($"relay=127.0.0.1[127.0.0.1]:{proxy.ProxyEndPoint.Port}, ");

        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        Assert.Equal(sender.Hostname, summary.EhloName);
        Assert.True(Assert.Single(summary.Transactions).Accepted);
    }

    [Fact]
    public async Task Swaks_StartTls_Is_Relayed_Opaquely_And_Delivers()
    {
        await using var postfix = await PostfixInstance.StartAsync(new PostfixOptions { Name = "upstream", SelfSignedTls = true });
        await using var proxy = await ProxyTo(postfix);
        var message = Message("STARTTLS relayed without interception");

        var swaks = await Swaks.SendAsync("127.0.0.1", proxy.ProxyEndPoint.Port, new SwaksOptions { Message = message, Tls = SwaksTls.StartTls });

        Assert.True(swaks.Succeeded, swaks.ToString());
        var delivery = Assert.Single(await postfix.WaitForDeliveriesAsync(1, DeliveryTimeout));
        Assert.Equal(PostfixInstance.StoredForm(message), delivery.Content);
        var summary = Assert.Single(await proxy.WaitForSessionsAsync(1));
        var jsonl = proxy.ReadTranscript(summary.SessionId, ".jsonl");
        Assert.Contains("upstream accepted STARTTLS (220)", jsonl, StringComparison.Ordinal);
        Assert.Contains("relaying encrypted records unchanged", jsonl, StringComparison.Ordinal);
        Assert.Contains("STARTTLS", summary.UpstreamCapabilities);
    }
}
