using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Org.BouncyCastle.Tls;
using SmtpLens.Tls;
using SmtpLens.Tls.Engine;

namespace SmtpLens.Tests.Tls;

/// <summary>
/// SmtpLens's own BouncyCastle peers, sealing records with the framework's AEADs, against an independent
/// implementation: the framework's SslStream (OpenSSL) over loopback, megabytes each way.
/// </summary>
public sealed class FrameworkCipherInteropTests : IDisposable
{
    /// <summary>Per direction: a few MB, hundreds of full-size records plus the odd partial ones.</summary>
    private const int Volume = 3 << 20;

    private readonly CertificateAuthority _ca = CertificateAuthority.CreateEphemeral(TimeProvider.System, "SmtpLens Cipher Test CA");
    private readonly TlsIdentity _identity;

    public FrameworkCipherInteropTests() =>
        _identity = _ca.Issue("localhost", ["localhost"], DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

    public void Dispose() => _ca.Dispose();

    /// <summary>Suite and version: the GCM and ChaCha20 suites of TLS 1.2 and TLS 1.3.</summary>
    public static TheoryData<int, int> AeadSuites => new()
    {
        { CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0x0303 },
        { CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 0x0303 },
        { CipherSuite.TLS_AES_128_GCM_SHA256, 0x0304 },
        { CipherSuite.TLS_AES_256_GCM_SHA384, 0x0304 },
        { CipherSuite.TLS_CHACHA20_POLY1305_SHA256, 0x0304 },
    };

    /// <summary>The BouncyCastle end accepts or offers one suite at one version, so SslStream must use them.</summary>
    private static TlsPolicy Only(int suite, int version) => TlsPolicy.Default with { CipherSuites = [suite], MinimumVersion = version, MaximumVersion = version };

    // Pinning the version is the point here: each suite belongs to one TLS version.
#pragma warning disable CA5397
    private static SslProtocols Ssl(int version) => version == 0x0304 ? SslProtocols.Tls13 : SslProtocols.Tls12;
#pragma warning restore CA5397

    [Theory]
    [MemberData(nameof(AeadSuites))]
    public async Task Intercepting_Server_Exchanges_Megabytes_With_SslStream_Client(int suite, int version)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        var (serverSocket, clientSocket) = await LoopbackPairAsync(ct);
        await using var serverTransport = new NetworkStream(serverSocket, ownsSocket: true);
        await using var clientTransport = new NetworkStream(clientSocket, ownsSocket: true);
        var record = new TlsLegRecord("client", "server");
        await using var ssl = new SslStream(clientTransport, leaveInnerStreamOpen: false);
        var leaf = _identity.ChainDer[0];

        var serverHandshake = TlsEngine.AcceptAsync(serverTransport, Only(suite, version), _identity, false, null, record, TimeProvider.System, ct);
        await ssl.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = Ssl(version),
                // Trust exactly the certificate this test issued.
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(leaf),
            },
            ct);
        await using var bouncy = await serverHandshake;

        Assert.Equal((TlsCipherSuite)suite, ssl.NegotiatedCipherSuite);
        Assert.Equal(suite, record.CipherSuite);
        Assert.Equal(version, record.Version);
        await ExchangeAsync(bouncy, ssl, ct);
        Assert.Empty(record.Alerts);
    }

    [Theory]
    [MemberData(nameof(AeadSuites))]
    public async Task Upstream_Client_Exchanges_Megabytes_With_SslStream_Server(int suite, int version)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        var (serverSocket, clientSocket) = await LoopbackPairAsync(ct);
        await using var serverTransport = new NetworkStream(serverSocket, ownsSocket: true);
        await using var clientTransport = new NetworkStream(clientSocket, ownsSocket: true);
        using var certificate = _ca.ToX509WithKey(_identity);
        var record = new TlsLegRecord("upstream", "client");
        var presented = 0;
        await using var ssl = new SslStream(serverTransport, leaveInnerStreamOpen: false);

        var serverHandshake = ssl.AuthenticateAsServerAsync(
            new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                EnabledSslProtocols = Ssl(version),
            },
            ct);
        await using var bouncy = await TlsEngine.ConnectAsync(clientTransport, Only(suite, version), "localhost", record, TimeProvider.System, _ => presented++, ct);
        await serverHandshake;

        Assert.Equal(1, presented);
        Assert.Equal((TlsCipherSuite)suite, ssl.NegotiatedCipherSuite);
        Assert.Equal(suite, record.CipherSuite);
        Assert.Equal(version, record.Version);
        await ExchangeAsync(bouncy, ssl, ct);
        Assert.Empty(record.Alerts);
    }

    private static async Task<(Socket Server, Socket Client)> LoopbackPairAsync(CancellationToken ct)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var accept = listener.AcceptAsync(ct);
        await client.ConnectAsync(listener.LocalEndPoint!, ct);
        var server = await accept;
        server.NoDelay = true;
        return (server, client);
    }

    /// <summary>Both ends write <see cref="Volume"/> bytes in irregular chunks while reading the other's, concurrently.</summary>
    private static async Task ExchangeAsync(Stream a, Stream b, CancellationToken ct)
    {
        var random = new Random(Volume);
        var aToB = RandomBytes(random, Volume);
        var bToA = RandomBytes(random, Volume);
        var atB = new byte[Volume];
        var atA = new byte[Volume];

        await Task.WhenAll(
            WriteChunkedAsync(a, aToB, new Random(1), ct),
            WriteChunkedAsync(b, bToA, new Random(2), ct),
            b.ReadExactlyAsync(atB, ct).AsTask(),
            a.ReadExactlyAsync(atA, ct).AsTask());

        Assert.True(aToB.AsSpan().SequenceEqual(atB), "bytes from the BouncyCastle end arrived altered");
        Assert.True(bToA.AsSpan().SequenceEqual(atA), "bytes from the SslStream end arrived altered");
    }

    private static async Task WriteChunkedAsync(Stream stream, byte[] data, Random random, CancellationToken ct)
    {
        for (var sent = 0; sent < data.Length;)
        {
            // From single bytes to several records per write, so record boundaries fall everywhere.
            var chunk = Math.Min(data.Length - sent, random.Next(3) == 0 ? random.Next(1, 100) : random.Next(1, 70_000));
            await stream.WriteAsync(data.AsMemory(sent, chunk), ct);
            sent += chunk;
        }

        await stream.FlushAsync(ct);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
