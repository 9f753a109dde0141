using System.Security.Authentication;
using System.Text.Json;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>TLS 1.3 through SmtpLens (the default): each leg negotiates what the same client and upstream
/// negotiate directly, because the upstream is offered what the client offered.</summary>
public sealed class Tls13InterceptionTests : IDisposable
{
    private readonly TlsTestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private TlsInterceptionOptions Options => new() { Authority = _pki.ProxyCa };

    private static List<JsonElement> Legs(RelayFixture f, string session) =>
        [.. f.ReadTranscript(session, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "tls" && e.TryGetProperty("data", out var d) && d.TryGetProperty("leg", out _) && d.TryGetProperty("completed", out _))
            .Select(e => e.GetProperty("data"))];

    private static async Task<LabClientResult> DirectAsync(LabServerOptions upstream, LabClientOptions client)
    {
        await using var server = new LabSmtpServer(upstream);
        server.Start();
        return await LabSmtpClient.SendAsync(server.EndPoint, [TestMessages.Text("direct\r\n")], client, CancellationToken.None);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12 | SslProtocols.Tls13, "TLSv1.3")]
    [InlineData(SslProtocols.Tls12, "TLSv1.2")]
    public async Task Both_Legs_Negotiate_What_The_Direct_Run_Negotiates(SslProtocols upstreamVersions, string expected)
    {
        var upstream = new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("mx.upstream.test"), TlsProtocols = upstreamVersions };
        var client = new LabClientOptions { StartTls = true, TlsServerName = "mx.upstream.test" };
        var direct = await DirectAsync(upstream, client);
        Assert.True(direct.Fates.Single().Delivered, direct.Error);

        await using var f = await RelayFixture.StartAsync(upstream, tls: Options);
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("through\r\n")], client, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail + result.Error);
        Assert.Equal(direct.TlsProtocol, result.TlsProtocol);
        Assert.Equal(direct.TlsCipher, result.TlsCipher);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        var legs = Legs(f, summary.SessionId);
        var upstreamLeg = legs.Single(l => l.GetProperty("leg").GetString() == "upstream");
        var clientLeg = legs.Single(l => l.GetProperty("leg").GetString() == "client");
        Assert.Equal(expected, upstreamLeg.GetProperty("version").GetString());
        Assert.Equal(expected, clientLeg.GetProperty("version").GetString());
        Assert.Equal(upstreamLeg.GetProperty("cipherSuite").GetString(), clientLeg.GetProperty("cipherSuite").GetString());
        // The key-share group (1.3) or the ECDHE curve of the ServerKeyExchange (1.2), on both legs, in every format.
        var group = upstreamLeg.GetProperty("group").GetString();
        Assert.False(string.IsNullOrEmpty(group));
        Assert.Equal(group, clientLeg.GetProperty("group").GetString());
        var words = expected == "TLSv1.3" ? $"key share {group}" : $"ECDHE group {group}";
        Assert.Contains($"upstream leg: {expected} {upstreamLeg.GetProperty("cipherSuite").GetString()}, {words}", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
        Assert.Contains(words, f.ReadTranscript(summary.SessionId, ".csv"), StringComparison.Ordinal);
        Assert.Contains(summary.ToLines(), l => l.StartsWith("TLS client leg: " + expected, StringComparison.Ordinal) && l.Contains(words, StringComparison.Ordinal));

        // The sender offered 1.3 and so did SmtpLens: an upstream choosing 1.2 is worth an informational finding.
        var capped = summary.Findings.Where(x => x.Code == SmtpLens.Findings.FindingCodes.TlsVersionCappedUpstream).ToList();
        if (expected == "TLSv1.2")
        {
            var finding = Assert.Single(capped);
            Assert.Equal("the sender offered TLSv1.3 and SmtpLens offered it upstream, but the upstream chose TLSv1.2", finding.Title);
            Assert.Contains("TLS_VERSION_CAPPED_UPSTREAM", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(capped);
        }

        // In TLS 1.3 the certificate travels encrypted; the engine still hands it over for the record.
        Assert.Equal("CN=mx.upstream.test", upstreamLeg.GetProperty("serverCertificates")[0].GetProperty("subject").GetString());

        // The upstream was offered the client's versions, not SmtpLens's own list.
        var offered = upstreamLeg.GetProperty("clientHello").GetProperty("supportedVersions").EnumerateArray().Select(v => v.GetString()).ToList();
        Assert.Equal(clientLeg.GetProperty("clientHello").GetProperty("supportedVersions").EnumerateArray().Select(v => v.GetString()).Where(v => v != "GREASE").ToList(), offered);
    }

    [Fact]
    public async Task Implicit_Tls_13_On_Both_Legs()
    {
        var upstream = new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate("smtps.upstream.test"), ImplicitTls = true };
        await using var f = await RelayFixture.StartAsync(upstream, tls: Options, implicitTls: true);
        var result = await LabSmtpClient.SendAsync(f.ProxyEndPoint, [TestMessages.Text("implicit 1.3\r\n")], new LabClientOptions { ImplicitTls = true, TlsServerName = "smtps.upstream.test" }, CancellationToken.None);

        Assert.True(result.Fates.Single().Delivered, result.Fates.Single().Detail + result.Error);
        Assert.Equal("Tls13", result.TlsProtocol);
        var summary = (await f.WaitForSessionsAsync(1)).Single();
        Assert.All(Legs(f, summary.SessionId), l => Assert.Equal("TLSv1.3", l.GetProperty("version").GetString()));
        Assert.Contains("TLSv1.3", f.ReadTranscript(summary.SessionId, ".log"), StringComparison.Ordinal);
    }
}
