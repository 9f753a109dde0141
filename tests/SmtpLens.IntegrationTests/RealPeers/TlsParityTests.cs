using System.Globalization;
using System.Runtime.Versioning;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.IntegrationTests.Tls;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>The run-time PKI of the parity tests: the upstream's certificate files and the proxy's CA directory.</summary>
[SupportedOSPlatform("linux")]
public sealed class TlsParityFixture : IAsyncLifetime, IDisposable
{
    private readonly TlsTestPki _pki = new();

    internal UpstreamTlsFiles Files { get; private set; } = null!;

    /// <summary>Made by <c>smtplens ca init</c>, as a user makes it.</summary>
    internal string CaDirectory => Path.Combine(Files.Directory, "ca");

    public async Task InitializeAsync()
    {
        Files = UpstreamTlsFiles.Write(_pki, TlsParityTests.UpstreamName, [TlsParityTests.UpstreamName]);
        var (exit, _, error) = await SmtplensProcess.RunAsync("ca", "init", "--dir", CaDirectory);
        Assert.True(exit == 0, error);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        Files?.Dispose();
        _pki.Dispose();
    }
}

/// <summary>
/// TLS that is not changed by looking at it (issue 13): the same real peers run once directly and once through
/// <c>smtplens proxy</c> intercepting, and the version, suite and group that the client sees, that the upstream
/// sees, and that SmtpLens records for each leg must all equal the direct run's. Three classes, so that xunit runs
/// them side by side: most of the time is spent waiting for Postfix and the proxy to start.
/// </summary>
[SupportedOSPlatform("linux")]
public abstract class TlsParityTests(TlsParityFixture fixture, ITestOutputHelper output)
{
    internal const string UpstreamName = "mx.parity.test";
    protected const string Established = "TLS connection established from";
    protected static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(60);

    private protected UpstreamTlsFiles Files => fixture.Files;

    protected string CaDirectory => fixture.CaDirectory;

    /// <summary>Prints the table, then asserts each view against the direct run (every field the direct run shows).</summary>
    private protected async Task CompareAsync(
        string peer,
        NegotiatedTls expected,
        NegotiatedTls directClient,
        NegotiatedTls proxiedClient,
        NegotiatedTls directUpstream,
        NegotiatedTls proxiedUpstream,
        InterceptingProxy proxy,
        (System.Text.Json.JsonElement Client, System.Text.Json.JsonElement Upstream)? legs = null)
    {
        var (clientLeg, upstreamLeg) = legs ?? await proxy.WaitForLegsAsync();
        var table = new ParityTable(peer);
        table.Add("client's view", directClient, proxiedClient);
        table.Add("upstream's view", directUpstream, proxiedUpstream);
        table.Add("SmtpLens record, client leg", expected, TlsViews.Leg(clientLeg));
        table.Add("SmtpLens record, upstream leg", expected, TlsViews.Leg(upstreamLeg));
        output.WriteLine(table.ToString());

        Assert.NotNull(expected.Version);
        Assert.NotNull(expected.Suite);
        if (expected.Version == "TLSv1.3" || expected.Suite!.Contains("_ECDHE_", StringComparison.Ordinal))
        {
            // An (EC)DHE group with a name; finite-field DH (Postfix's anonymous suites) is shown by no view.
            Assert.NotNull(expected.Group);
        }

        AssertSame(directClient, proxiedClient, "client's view", table);
        AssertSame(directUpstream, proxiedUpstream, "upstream's view", table);
        AssertSame(expected, TlsViews.Leg(clientLeg), "SmtpLens client leg", table);
        AssertSame(expected, TlsViews.Leg(upstreamLeg), "SmtpLens upstream leg", table);
        if (expected.Suite!.Contains("_anon_", StringComparison.Ordinal))
        {
            // Anonymous DH: the upstream sent no certificate, and SmtpLens presented none to the client.
            Assert.Empty(upstreamLeg.GetProperty("serverCertificates").EnumerateArray());
            Assert.Empty(clientLeg.GetProperty("serverCertificates").EnumerateArray());
        }
    }

    private static void AssertSame(NegotiatedTls direct, NegotiatedTls proxied, string view, ParityTable table)
    {
        var because = $"{view} differs from the direct run:\n{table}";
        Assert.True(direct.Version is null || direct.Version == proxied.Version, because);
        Assert.True(direct.Suite is null || direct.Suite == proxied.Suite, because);
        Assert.True(direct.Group is null || direct.Group == proxied.Group, because);
        Assert.True(direct.HelloRetry is null || direct.HelloRetry == proxied.HelloRetry, because);
    }

    private protected static async Task<NegotiatedTls> PostfixViewAsync(PostfixInstance postfix, int nth) =>
        await TlsViews.PostfixAsync((await postfix.WaitForLogLinesAsync(Established, nth, DeliveryTimeout))[nth - 1]);

    private protected Task<PostfixInstance> StartPostfixAsync(IReadOnlyDictionary<string, string>? mainCf = null) =>
        PostfixInstance.StartAsync(new PostfixOptions
        {
            Name = "upstream",
            TlsCertificateFile = Files.CertificateFile,
            TlsKeyFile = Files.KeyFile,
            MainCf = mainCf ?? new Dictionary<string, string>(),
        });

    private protected static PostfixOptions SenderOptions(string name) => new()
    {
        Name = name,
        MainCf = new Dictionary<string, string> { ["smtp_tls_security_level"] = "encrypt", ["smtp_tls_loglevel"] = "1" },
    };
}

/// <summary>openssl s_client, STARTTLS to Postfix and implicit TLS to an openssl s_server that forces a HelloRetryRequest.</summary>
[SupportedOSPlatform("linux")]
public sealed class OpenSslParityTests(TlsParityFixture fixture, ITestOutputHelper output) : TlsParityTests(fixture, output), IClassFixture<TlsParityFixture>
{
    [Theory]
    [InlineData("-tls1_3")]
    [InlineData("-tls1_2")] // a TLS 1.2-only client to a 1.3 upstream: the upstream leg must be 1.2 as well
    public async Task OpenSsl_SClient_StartTls_To_Postfix(string versionOption)
    {
        await using var postfix = await StartPostfixAsync();
        string[] Arguments(int port) =>
            ["s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", versionOption, "-servername", UpstreamName, "-msg", "-crlf", "-nocommands"];

        var direct = await OpenSsl.RunAsync(Arguments(postfix.Port), stdin: "QUIT\n");
        Assert.True(direct.ExitCode == 0 && !direct.TimedOut, direct.CommandLine + "\n" + direct.Output);
        var directClient = await TlsViews.OpenSslClientAsync(direct.StandardOutput, traced: true);
        var directUpstream = await PostfixViewAsync(postfix, 1);

        await using var proxy = await InterceptingProxy.StartAsync(CaDirectory, Files.Directory, postfix.Port);
        var proxied = await OpenSsl.RunAsync(Arguments(proxy.Port), stdin: "QUIT\n");
        Assert.True(proxied.ExitCode == 0 && !proxied.TimedOut, proxied.CommandLine + "\n" + proxied.Output + "\n" + proxy.Log);
        var proxiedClient = await TlsViews.OpenSslClientAsync(proxied.StandardOutput, traced: true);
        var proxiedUpstream = await PostfixViewAsync(postfix, 2);

        var expected = directClient.Merge(directUpstream, "direct run");
        Assert.Equal(versionOption == "-tls1_3" ? "TLSv1.3" : "TLSv1.2", expected.Version);
        await CompareAsync($"openssl s_client -starttls smtp {versionOption} -> Postfix smtpd", expected, directClient, proxiedClient, directUpstream, proxiedUpstream, proxy);
    }

    [Theory]
    [InlineData("-tls1_3")] // the client's only key share is x25519: P-256 needs a HelloRetryRequest
    [InlineData("-tls1_2")] // the ECDHE curve of the ServerKeyExchange
    public async Task OpenSsl_SClient_Implicit_Tls_To_SServer_Limited_To_P256(string versionOption)
    {
        string[] Arguments(int port) =>
            ["s_client", "-connect", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", versionOption, "-servername", UpstreamName, "-msg", "-crlf", "-nocommands"];
        string[] serverOptions = ["-groups", "P-256"];

        NegotiatedTls directClient, directUpstream;
        await using (var server = await OpenSslServer.StartAsync(Files.CertificateFile, Files.KeyFile, serverOptions))
        {
            var direct = await OpenSsl.RunAsync(Arguments(server.Port), stdin: "QUIT\n");
            Assert.True(direct.ExitCode == 0 && !direct.TimedOut, direct.CommandLine + "\n" + direct.Output);
            directClient = await TlsViews.OpenSslClientAsync(direct.StandardOutput, traced: true);
            directUpstream = TlsViews.OpenSslServerTrace(await server.FinishAsync());
        }

        await using var upstream = await OpenSslServer.StartAsync(Files.CertificateFile, Files.KeyFile, serverOptions);
        await using var proxy = await InterceptingProxy.StartAsync(CaDirectory, Files.Directory, upstream.Port, implicitTls: true);
        var proxied = await OpenSsl.RunAsync(Arguments(proxy.Port), stdin: "QUIT\n");
        Assert.True(proxied.ExitCode == 0 && !proxied.TimedOut, proxied.CommandLine + "\n" + proxied.Output + "\n" + proxy.Log);
        var proxiedClient = await TlsViews.OpenSslClientAsync(proxied.StandardOutput, traced: true);
        var legs = await proxy.WaitForLegsAsync();
        var proxiedUpstream = TlsViews.OpenSslServerTrace(await upstream.FinishAsync());

        var expected = directClient.Merge(directUpstream, "direct run");
        Assert.Equal("secp256r1", expected.Group);
        Assert.Equal(versionOption == "-tls1_3", expected.HelloRetry);
        await CompareAsync($"openssl s_client {versionOption} -> openssl s_server -groups P-256, implicit TLS", expected, directClient, proxiedClient, directUpstream, proxiedUpstream, proxy, legs);
    }
}

/// <summary>swaks (Net::SSLeay) and gnutls-cli, STARTTLS to Postfix.</summary>
[SupportedOSPlatform("linux")]
public sealed class StartTlsClientParityTests(TlsParityFixture fixture, ITestOutputHelper output) : TlsParityTests(fixture, output), IClassFixture<TlsParityFixture>
{
    [Fact]
    public async Task Swaks_Default_StartTls_To_Postfix()
    {
        await using var postfix = await StartPostfixAsync();
        var options = new SwaksOptions { Tls = SwaksTls.StartTls, Message = PeerMessages.Sample("TLS parity, swaks") };

        var direct = await Swaks.SendAsync("127.0.0.1", postfix.Port, options);
        Assert.True(direct.Succeeded, direct.ToString());
        var directClient = await TlsViews.SwaksAsync(direct.Output);
        var directUpstream = await PostfixViewAsync(postfix, 1);

        await using var proxy = await InterceptingProxy.StartAsync(CaDirectory, Files.Directory, postfix.Port);
        var proxied = await Swaks.SendAsync("127.0.0.1", proxy.Port, options);
        Assert.True(proxied.Succeeded, proxied + "\n" + proxy.Log);
        var proxiedClient = await TlsViews.SwaksAsync(proxied.Output);
        var proxiedUpstream = await PostfixViewAsync(postfix, 2);
        Assert.Equal(2, (await postfix.WaitForDeliveriesAsync(2, DeliveryTimeout)).Count);

        await CompareAsync("swaks --tls (Net::SSLeay) -> Postfix smtpd", directClient.Merge(directUpstream, "direct run"), directClient, proxiedClient, directUpstream, proxiedUpstream, proxy);
    }

    [Fact]
    public async Task GnuTls_Cli_StartTls_To_Postfix()
    {
        await using var postfix = await StartPostfixAsync();

        // gnutls-cli exits 1 when Postfix closes after 221 without close_notify; its handshake report is what counts.
        var direct = await GnuTlsCli.StartTlsAsync(postfix.Port);
        Assert.False(direct.TimedOut, direct.CommandLine + "\n" + direct.Output);
        var directClient = TlsViews.GnuTls(direct.Output);
        var directUpstream = await PostfixViewAsync(postfix, 1);

        await using var proxy = await InterceptingProxy.StartAsync(CaDirectory, Files.Directory, postfix.Port);
        var proxied = await GnuTlsCli.StartTlsAsync(proxy.Port);
        Assert.False(proxied.TimedOut, proxied.CommandLine + "\n" + proxied.Output + "\n" + proxy.Log);
        var proxiedClient = TlsViews.GnuTls(proxied.Output);
        var proxiedUpstream = await PostfixViewAsync(postfix, 2);

        await CompareAsync("gnutls-cli --starttls-proto=smtp -> Postfix smtpd", directClient.Merge(directUpstream, "direct run"), directClient, proxiedClient, directUpstream, proxiedUpstream, proxy);
    }
}

/// <summary>A Postfix smtp client relaying to a Postfix smtpd, which speaks TLS 1.3, or only 1.2.</summary>
[SupportedOSPlatform("linux")]
public sealed class PostfixParityTests(TlsParityFixture fixture, ITestOutputHelper output) : TlsParityTests(fixture, output), IClassFixture<TlsParityFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)] // a TLS 1.2-only upstream: the client leg must come down to 1.2 with the direct run's suite
    public async Task Postfix_Smtp_Client_To_Postfix_Smtpd(bool upstreamTls12Only)
    {
        var limits = upstreamTls12Only
            ? new Dictionary<string, string> { ["smtpd_tls_protocols"] = "!SSLv2, !SSLv3, !TLSv1.3", ["smtpd_tls_mandatory_protocols"] = "!SSLv2, !SSLv3, !TLSv1.3" }
            : [];
        await using var target = await StartPostfixAsync(limits);
        await using var proxy = await InterceptingProxy.StartAsync(CaDirectory, Files.Directory, target.Port);
        var senders = await Task.WhenAll(
            PostfixInstance.StartRelayAsync("127.0.0.1", target.Port, SenderOptions("direct")),
            PostfixInstance.StartRelayAsync("127.0.0.1", proxy.Port, SenderOptions("proxied")));
        await using var directSender = senders[0];
        await using var proxiedSender = senders[1];

        var direct = await Swaks.SendAsync(directSender.Host, directSender.Port, new SwaksOptions { Message = PeerMessages.Sample("TLS parity, Postfix direct") });
        Assert.True(direct.Succeeded, direct.ToString());
        await target.WaitForDeliveriesAsync(1, DeliveryTimeout);
        var directClient = await TlsViews.PostfixAsync((await directSender.WaitForLogLinesAsync("TLS connection established to", 1, DeliveryTimeout))[0]);
        var directUpstream = await PostfixViewAsync(target, 1);

        var proxied = await Swaks.SendAsync(proxiedSender.Host, proxiedSender.Port, new SwaksOptions { Message = PeerMessages.Sample("TLS parity, Postfix through SmtpLens") });
        Assert.True(proxied.Succeeded, proxied.ToString());
        await target.WaitForDeliveriesAsync(2, DeliveryTimeout);
        var proxiedClient = await TlsViews.PostfixAsync((await proxiedSender.WaitForLogLinesAsync("TLS connection established to", 1, DeliveryTimeout))[0]);
        var proxiedUpstream = await PostfixViewAsync(target, 2);

        var expected = directClient.Merge(directUpstream, "direct run");
        Assert.Equal(upstreamTls12Only ? "TLSv1.2" : "TLSv1.3", expected.Version);
        await CompareAsync($"Postfix smtp -> Postfix smtpd{(upstreamTls12Only ? " (smtpd !TLSv1.3)" : string.Empty)}", expected, directClient, proxiedClient, directUpstream, proxiedUpstream, proxy);
    }
}
