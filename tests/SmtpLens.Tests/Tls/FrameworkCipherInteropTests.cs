using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

/// <summary>
/// SmtpLens's own BouncyCastle peers, now sealing records with the framework cipher, against independent
/// implementations: the framework's SslStream (OpenSSL) over loopback, and stock BouncyCastle in memory.
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

    public static TheoryData<int> GcmSuites => new()
    {
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    };

    // The peers' cipher is observed from inside NotifyHandshakeComplete (through the key-log hook): the last moment
    // BouncyCastle still holds the master secret, so GetCipher() builds what the record layer was given.

    /// <summary>The BouncyCastle end accepts or offers one suite, so SslStream (left at its defaults) must use it.</summary>
    private static TlsPolicy Only(int suite) => TlsPolicy.Default with { CipherSuites = [suite] };

    [Theory]
    [MemberData(nameof(GcmSuites))]
    public async Task Intercepting_Server_Exchanges_Megabytes_With_SslStream_Client(int suite)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        var (serverSocket, clientSocket) = await LoopbackPairAsync(ct);
        await using var serverTransport = new NetworkStream(serverSocket, ownsSocket: true);
        await using var clientTransport = new NetworkStream(clientSocket, ownsSocket: true);

        InterceptingTlsServer? peer = null;
        TlsCipher? cipher = null;
        var events = new TlsPeerEvents(new TlsLegRecord("client", "server"), TimeProvider.System) { KeyMaterial = (_, _) => cipher = peer!.GetCipher() };
        peer = new InterceptingTlsServer(Only(suite), _identity, requestClientCertificate: false, preferredSuite: null, events);
        var protocol = new TlsServerProtocol(new SecureRandom());
        await using var bouncy = new BouncyTlsStream(protocol, serverTransport);
        protocol.Accept(peer);
        await using var ssl = new SslStream(clientTransport, leaveInnerStreamOpen: false);
        var leaf = TlsPeerEvents.Der(_identity.Chain).First();

        var serverHandshake = bouncy.HandshakeAsync(() => events.HandshakeComplete, ct);
        await ssl.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = SslProtocols.Tls12,
                // Trust exactly the certificate this test issued.
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(leaf),
            },
            ct);
        await serverHandshake;

        Assert.Equal((TlsCipherSuite)suite, ssl.NegotiatedCipherSuite);
        Assert.Equal(suite, events.Record.CipherSuite);
        Assert.IsType<FrameworkAesGcmCipher>(cipher);
        await ExchangeAsync(bouncy, ssl, ct);
        Assert.Empty(events.Record.Alerts);
    }

    [Theory]
    [MemberData(nameof(GcmSuites))]
    public async Task Upstream_Client_Exchanges_Megabytes_With_SslStream_Server(int suite)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        var (serverSocket, clientSocket) = await LoopbackPairAsync(ct);
        await using var serverTransport = new NetworkStream(serverSocket, ownsSocket: true);
        await using var clientTransport = new NetworkStream(clientSocket, ownsSocket: true);
        using var certificate = _ca.ToX509WithKey(_identity);

        UpstreamTlsClient? peer = null;
        TlsCipher? cipher = null;
        var events = new TlsPeerEvents(new TlsLegRecord("upstream", "client"), TimeProvider.System) { KeyMaterial = (_, _) => cipher = peer!.GetCipher() };
        var presented = 0;
        peer = new UpstreamTlsClient(Only(suite), "localhost", clientIdentity: null, _ => presented++, events);
        var protocol = new TlsClientProtocol(new SecureRandom());
        await using var bouncy = new BouncyTlsStream(protocol, clientTransport);
        protocol.Connect(peer);
        await using var ssl = new SslStream(serverTransport, leaveInnerStreamOpen: false);

        var serverHandshake = ssl.AuthenticateAsServerAsync(
            new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                EnabledSslProtocols = SslProtocols.Tls12,
            },
            ct);
        await bouncy.HandshakeAsync(() => events.HandshakeComplete, ct);
        await serverHandshake;

        Assert.Equal(1, presented);
        Assert.Equal((TlsCipherSuite)suite, ssl.NegotiatedCipherSuite);
        Assert.Equal(suite, events.Record.CipherSuite);
        Assert.IsType<FrameworkAesGcmCipher>(cipher);
        await ExchangeAsync(bouncy, ssl, ct);
        Assert.Empty(events.Record.Alerts);
    }

    [Theory]
    [MemberData(nameof(GcmSuites))]
    public void Stock_BouncyCastle_Client_Talks_To_Intercepting_Server_And_A_Tampered_Record_Is_Rejected_With_Bad_Record_Mac(int suite)
    {
        var events = new TlsPeerEvents(new TlsLegRecord("client", "server"), TimeProvider.System);
        var server = new TlsServerProtocol(new SecureRandom());
        server.Accept(new InterceptingTlsServer(Only(suite), _identity, requestClientCertificate: false, preferredSuite: null, events));
        var stock = new StockBouncyClient(suite);
        var client = new TlsClientProtocol(new SecureRandom());
        client.Connect(stock);

        Pump(client, server);
        Assert.True(stock.HandshakeComplete && events.HandshakeComplete, "handshake did not finish");
        Assert.IsType<TlsAeadCipher>(stock.Cipher);

        // Stock BouncyCastle seals, the framework cipher opens; then the reverse.
        var random = new Random(suite);
        foreach (var size in new[] { 1, 1000, 1 << 14, (1 << 14) + 1, 200_000 })
        {
            var up = RandomBytes(random, size);
            client.OfferOutput(up, 0, up.Length);
            Pump(client, server);
            Assert.Equal(up, TakeInput(server));

            var down = RandomBytes(random, size);
            server.OfferOutput(down, 0, down.Length);
            Pump(client, server);
            Assert.Equal(down, TakeInput(client));
        }

        // One flipped bit in the last record's tag: the framework cipher must refuse it as BouncyCastle would.
        var message = RandomBytes(random, 300);
        client.OfferOutput(message, 0, message.Length);
        var record = Drain(client);
        record[^1] ^= 0x01;
        var alert = Assert.Throws<TlsFatalAlert>(() => server.OfferInput(record));

        Assert.Equal(AlertDescription.bad_record_mac, alert.AlertDescription);
        Assert.Equal(0, server.GetAvailableInputBytes());
        var raised = Assert.Single(events.Record.Alerts);
        Assert.Equal(TlsSide.SmtpLens, raised.RaisedBy);
        Assert.Equal(new TlsAlert(AlertLevel.fatal, AlertDescription.bad_record_mac), raised.Alert);
        // The peer is told: an encrypted alert record (content type 21) is queued for it.
        Assert.Equal(ContentType.alert, Drain(server)[0]);
        Assert.True(server.IsClosed);
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

    /// <summary>Moves records between two non-blocking engines until neither has anything to say.</summary>
    private static void Pump(TlsProtocol client, TlsProtocol server)
    {
        for (var moved = true; moved;)
        {
            var toServer = Drain(client);
            if (toServer.Length > 0)
            {
                server.OfferInput(toServer);
            }

            var toClient = Drain(server);
            if (toClient.Length > 0)
            {
                client.OfferInput(toClient);
            }

            moved = toServer.Length > 0 || toClient.Length > 0;
        }
    }

    private static byte[] Drain(TlsProtocol protocol)
    {
        var bytes = new byte[protocol.GetAvailableOutputBytes()];
        var read = protocol.ReadOutput(bytes, 0, bytes.Length);
        return bytes[..read];
    }

    private static byte[] TakeInput(TlsProtocol protocol)
    {
        var bytes = new byte[protocol.GetAvailableInputBytes()];
        var read = protocol.ReadInput(bytes, 0, bytes.Length);
        return bytes[..read];
    }

    /// <summary>BouncyCastle as shipped: its own cipher factory, so its managed TlsAeadCipher seals and opens.</summary>
    private sealed class StockBouncyClient(int suite) : DefaultTlsClient
    {
        public bool HandshakeComplete { get; private set; }

        public TlsCipher? Cipher { get; private set; }

        public override int[] GetCipherSuites() => [suite];

        public override TlsAuthentication GetAuthentication() => new AnyServer();

        public override void NotifyHandshakeComplete()
        {
            base.NotifyHandshakeComplete();
            Cipher = GetCipher();
            HandshakeComplete = true;
        }

        /// <summary>The server's certificate is not what these tests are about.</summary>
        private sealed class AnyServer : TlsAuthentication
        {
            public void NotifyServerCertificate(Certificate serverCertificate)
            {
            }

            public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
        }
    }
}
