using System.Net;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.Net;
using SmtpLens.StateMachine;

namespace SmtpLens.IntegrationTests.Transparent;

/// <summary>PROXY protocol on loopback: headers accepted, rejected, and sent upstream; unredirected connections refused.</summary>
public sealed class ProxyProtocolTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("V1", 1)]
    [InlineData("V2", 2)]
    [InlineData("Optional", 1)]
    [InlineData("Optional", 2)]
    public async Task AcceptedHeader_TranscriptNamesTheRealClientAndTheBalancer(string mode, int version)
    {
        await using var relay = await RelayFixture.StartAsync(new LabServerOptions(), null, configure: l => l with { AcceptProxy = Enum.Parse<ProxyProtocolMode>(mode) });
        await using var client = await RawSmtpClient.ConnectAsync(relay.Proxy.LocalEndPoint);
        var header = ProxyHeaderWriter.Write(version, IPEndPoint.Parse("192.0.2.7:40001"), IPEndPoint.Parse("198.51.100.25:25"));

        await client.SendAsync(header);
        Assert.True(await client.ReadUntilAsync("220 ", Wait), client.ReceivedText);
        await client.SendAsync("QUIT\r\n");
        Assert.True(await client.ReadUntilAsync("221 ", Wait), client.ReceivedText);

        var summary = (await relay.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.Quit, summary.Reason);
        Assert.Equal("192.0.2.7:40001", summary.Client);
        Assert.StartsWith("127.0.0.1:", summary.ClientSeen, StringComparison.Ordinal);
        var events = Events(relay.ReadTranscript(summary.SessionId, ".jsonl"));
        var proxy = Assert.Single(events, e => e.GetProperty("kind").GetString() == "proxy-header");
        Assert.Equal(version, proxy.GetProperty("data").GetProperty("version").GetInt32());
        Assert.Equal("192.0.2.7:40001", proxy.GetProperty("data").GetProperty("source").GetString());
        Assert.Contains($"client 192.0.2.7:40001 connected", relay.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
        Assert.Contains("192.0.2.7:40001", relay.ReadTranscript(summary.SessionId, ".csv"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OptionalMode_DirectClientWithoutHeader_IsRelayedAfterTheWait()
    {
        await using var relay = await RelayFixture.StartAsync(new LabServerOptions(), null, configure: l => l with { AcceptProxy = ProxyProtocolMode.Optional });
        await using var client = await RawSmtpClient.ConnectAsync(relay.Proxy.LocalEndPoint);

        Assert.True(await client.ReadUntilAsync("220 ", Wait), client.ReceivedText);
        await client.SendAsync("QUIT\r\n");
        Assert.True(await client.ReadUntilAsync("221 ", Wait), client.ReceivedText);

        var summary = (await relay.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.Quit, summary.Reason);
        Assert.Equal(summary.ClientSeen, summary.Client);
    }

    public static TheoryData<string, byte[], string> Malformed => new()
    {
        { "V1", "PROXY TCP4 192.0.2.300 198.51.100.25 1 25\r\n"u8.ToArray(), "not TCP4 addresses" },
        { "V1", "EHLO sender.example\r\n"u8.ToArray(), "not a PROXY protocol header" },
        { "V1", [.. "PROXY UNKNOWN "u8, .. new byte[120].Select(_ => (byte)'x')], "no CRLF within 107 bytes" },
        { "V2", [.. ProxyHeaderParser.V2Signature, 0x31, 0x11, 0, 12, .. new byte[12]], "version 3" },
        { "V2", [.. ProxyHeaderParser.V2Signature, 0x21, 0x11, 0, 4, 1, 2, 3, 4], "12-byte address block" },
        { "V2", ProxyHeaderWriter.WriteV1(IPEndPoint.Parse("192.0.2.7:1"), IPEndPoint.Parse("192.0.2.8:25")), "requires v2" },
        { "Optional", "PROXY TCP4 192.0.2.7\r\n"u8.ToArray(), "6 single-space-separated" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task MalformedHeader_IsRejectedWithATranscriptEventAndNothingIsRelayed(string mode, byte[] bytes, string reason)
    {
        await using var relay = await RelayFixture.StartAsync(new LabServerOptions(), null, configure: l => l with { AcceptProxy = Enum.Parse<ProxyProtocolMode>(mode) });
        await using var client = await RawSmtpClient.ConnectAsync(relay.Proxy.LocalEndPoint);

        await client.SendAsync(bytes);
        Assert.True(await client.ReadToEndAsync(Wait));

        var summary = (await relay.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.ProxyHeaderRejected, summary.Reason);
        Assert.Contains(reason, summary.EndDetail, StringComparison.Ordinal);
        Assert.Empty(client.Received);
        var events = Events(relay.ReadTranscript(summary.SessionId, ".jsonl"));
        var rejected = Assert.Single(events, e => e.GetProperty("kind").GetString() == "proxy-header");
        Assert.True(rejected.GetProperty("data").GetProperty("rejected").GetBoolean());
        Assert.DoesNotContain(events, e => e.GetProperty("kind").GetString() == "upstream-connect");
        Assert.Contains("PROXY header rejected", relay.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingHeader_IsRejectedAfterTheHeaderTimeout()
    {
        await using var relay = await RelayFixture.StartAsync(new LabServerOptions(), null, configure: l => l with { AcceptProxy = ProxyProtocolMode.V2 });
        await using var client = await RawSmtpClient.ConnectAsync(relay.Proxy.LocalEndPoint);

        Assert.True(await client.ReadToEndAsync(ProxyHeaderReader.HeaderTimeout + Wait));

        var summary = (await relay.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.ProxyHeaderRejected, summary.Reason);
        Assert.Contains("no PROXY header within 5 s", summary.EndDetail, StringComparison.Ordinal);
        Assert.Empty(client.Received);
    }

    [Fact]
    public async Task SendProxy_UpstreamReceivesTheHeaderFirst()
    {
        using var upstream = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        upstream.Start();
        await using var relay = await RelayFixture.StartAsync(null, (IPEndPoint)upstream.LocalEndpoint, configure: l => l with { AcceptProxy = ProxyProtocolMode.V1, SendProxy = 2 });
        await using var client = await RawSmtpClient.ConnectAsync(relay.Proxy.LocalEndPoint);
        await client.SendAsync("PROXY TCP4 192.0.2.7 198.51.100.25 40001 25\r\n");

        using var accepted = await upstream.AcceptSocketAsync();
        var buffer = new byte[64];
        var have = 0;
        while (have < 28)
        {
            have += await accepted.ReceiveAsync(buffer.AsMemory(have), System.Net.Sockets.SocketFlags.None);
        }

        var parsed = ProxyHeaderParser.Parse(buffer.AsSpan(0, have));
        Assert.Equal(ProxyParseStatus.Complete, parsed.Status);
        Assert.Equal(2, parsed.Header!.Version);
        Assert.Equal(IPEndPoint.Parse("192.0.2.7:40001"), parsed.Header.Source);
        Assert.Equal(IPEndPoint.Parse("198.51.100.25:25"), parsed.Header.Destination);
        accepted.Close();

        var summary = (await relay.WaitForSessionsAsync(1)).Single();
        Assert.Contains(Events(relay.ReadTranscript(summary.SessionId, ".jsonl")), e => e.GetProperty("kind").GetString() == "proxy-header" && e.GetProperty("data").GetProperty("direction").GetString() == "sent");
    }

    [Fact]
    public async Task OriginalDestinationRoute_ConnectionNotRedirected_Gets421AndIsNotLooped()
    {
        await using var relay = await RelayFixture.StartAsync(new LabServerOptions(), null, configure: l => l with { Route = UpstreamRoute.OriginalDestination });
        await using var client = await RawSmtpClient.ConnectAsync(relay.Proxy.LocalEndPoint);

        Assert.True(await client.ReadUntilAsync("421 4.4.0 SmtpLens: no original destination", Wait), client.ReceivedText);
        Assert.True(await client.ReadToEndAsync(Wait));

        var summary = (await relay.WaitForSessionsAsync(1)).Single();
        Assert.Equal(SessionEndReason.NoOriginalDestination, summary.Reason);
        Assert.Equal("original-destination", summary.Route);
        Assert.True(summary.EndDetail.Contains("SO_ORIGINAL_DST failed", StringComparison.Ordinal) || summary.EndDetail.Contains("own listener", StringComparison.Ordinal), summary.EndDetail);
        Assert.Empty(relay.Upstream!.Received);
    }

    private static List<JsonElement> Events(string jsonl) =>
        [.. jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
}
