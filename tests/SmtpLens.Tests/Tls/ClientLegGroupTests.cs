using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using SmtpLens.Tls;
using WireClientHello = SmtpLens.Tls.ClientHello;
using WireServerHello = SmtpLens.Tls.ServerHello;

namespace SmtpLens.Tests.Tls;

/// <summary>
/// The client leg takes the (EC)DHE group and the suite the upstream chose. A client offering x25519 and P-256 with
/// an x25519 key share, whose upstream only does P-256, gets a HelloRetryRequest for P-256 directly; through SmtpLens
/// it must too, not a silent x25519 (the engine's default, the client's first group). Likewise an anonymous DH suite.
/// </summary>
public sealed class ClientLegGroupTests
{
    private static readonly TlsPolicy UpTo13 = TlsPolicy.Parse(false, ["tls1.2", "tls1.3"], null);

    [Fact]
    public void Tls13_UpstreamGroup_Without_A_Client_Key_Share_Gets_A_HelloRetryRequest_For_It()
    {
        var run = Handshake(ProtocolVersion.TLSv13, upstreamGroup: NamedGroup.secp256r1);

        Assert.True(run.ServerHellos[0].IsHelloRetryRequest, "expected a HelloRetryRequest first");
        Assert.Equal(NamedGroup.secp256r1, run.ClientGroup);
        Assert.Equal(NamedGroup.secp256r1, run.Leg.Group);
    }

    [Fact]
    public void Tls13_UpstreamGroup_With_A_Client_Key_Share_Is_Taken_At_Once()
    {
        var run = Handshake(ProtocolVersion.TLSv13, upstreamGroup: NamedGroup.x25519);

        Assert.Single(run.ServerHellos);
        Assert.False(run.ServerHellos[0].IsHelloRetryRequest);
        Assert.Equal(NamedGroup.x25519, run.ClientGroup);
    }

    [Fact]
    public void Tls13_Without_An_Upstream_Group_The_Client_Key_Share_Is_Taken()
    {
        // An upstream leg that recorded no group (mirror mode, or TLS 1.2 with a non-ECDHE suite) changes nothing.
        var run = Handshake(ProtocolVersion.TLSv13, upstreamGroup: null);

        Assert.Single(run.ServerHellos);
        Assert.Equal(NamedGroup.x25519, run.ClientGroup);
    }

    [Fact]
    public void Tls12_Ecdhe_Uses_The_Upstream_Curve_When_The_Client_Offered_It()
    {
        var run = Handshake(ProtocolVersion.TLSv12, upstreamGroup: NamedGroup.secp256r1);

        Assert.Equal(NamedGroup.secp256r1, run.ServerKeyExchangeCurve);
    }

    [Fact]
    public void Tls12_Ecdhe_Falls_Back_To_The_Client_Order_For_A_Curve_It_Did_Not_Offer()
    {
        var run = Handshake(ProtocolVersion.TLSv12, upstreamGroup: NamedGroup.secp384r1);

        Assert.Equal(NamedGroup.x25519, run.ServerKeyExchangeCurve);
    }

    [Fact]
    public void Tls12_An_Anonymous_Suite_The_Upstream_Chose_Is_Answered()
    {
        // Postfix to Postfix at "may"/"encrypt" negotiates anonymous DH in TLS 1.2; the client leg must too.
        var run = Handshake(ProtocolVersion.TLSv12, upstreamGroup: null, upstreamSuite: CipherSuite.TLS_DH_anon_WITH_AES_256_GCM_SHA384);

        Assert.Equal(CipherSuite.TLS_DH_anon_WITH_AES_256_GCM_SHA384, run.Leg.CipherSuite);
    }

    [Fact]
    public void Tls12_An_Anonymous_Suite_Is_Not_Chosen_Unless_The_Upstream_Chose_It()
    {
        var run = Handshake(ProtocolVersion.TLSv12, upstreamGroup: null, upstreamSuite: null);

        Assert.Equal(CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, run.Leg.CipherSuite);
    }

    [Fact]
    public void Upstream_Offer_Carries_The_Senders_Anonymous_Suites()
    {
        var sender = Hello(TlsHelloVectors.BouncyCastleClientHello(TlsPolicy.Default with { CipherSuites = [CipherSuite.TLS_DH_anon_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384] }));
        Assert.Contains(CipherSuite.TLS_DH_anon_WITH_AES_256_GCM_SHA384, sender.CipherSuites);

        var protocol = new TlsClientProtocol();
        var events = new TlsPeerEvents(new TlsLegRecord("upstream", "client"), TimeProvider.System);
        var upstream = new UpstreamTlsClient(events.CreateCrypto(), TlsPolicy.Default, "mx.example.org", null, _ => { }, events) { Mirror = sender };
        protocol.Connect(upstream);
        var record = new byte[protocol.GetAvailableOutputBytes()];
        protocol.ReadOutput(record, 0, record.Length);

        Assert.Equal(
            [CipherSuite.TLS_DH_anon_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384],
            Hello(record).CipherSuites.Where(s => s != CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV));
    }

    private static WireClientHello Hello(byte[] record)
    {
        var tap = new HandshakeTap();
        tap.Observe(record);
        return tap.Find(1, WireClientHello.Parse) ?? throw new InvalidOperationException("no ClientHello in the record");
    }

    private static HandshakeRun Handshake(ProtocolVersion version, int? upstreamGroup, int? upstreamSuite = null)
    {
        var identity = TlsTestCertificates.Interception.Issue("mx.example.org", ["mx.example.org"], TlsTestCertificates.Now, TlsTestCertificates.Now.AddDays(30));
        var events = new TlsPeerEvents(new TlsLegRecord("client", "server"), TimeProvider.System);
        var server = new InterceptingTlsServer(events.CreateCrypto(), UpTo13, identity, false, upstreamSuite, events)
        {
            UpstreamVersion = version.FullVersion,
            UpstreamGroup = upstreamGroup,
        };
        var client = new GroupOfferingClient(new BcTlsCrypto(new SecureRandom()), version);
        var clientProtocol = new TlsClientProtocol();
        var serverProtocol = new TlsServerProtocol();
        clientProtocol.Connect(client);
        serverProtocol.Accept(server);

        // Non-blocking engines: move bytes by hand until both sides are done; the server's output is tapped as the
        // interceptor taps the wire, so the HelloRetryRequest and ServerKeyExchange are read from real records.
        var serverWire = new HandshakeTap();
        for (var round = 0; round < 20 && !(client.Completed && events.HandshakeComplete); round++)
        {
            Move(clientProtocol, serverProtocol, null);
            Move(serverProtocol, clientProtocol, serverWire);
        }

        Assert.True(client.Completed && events.HandshakeComplete, "handshake did not complete");
        var hellos = serverWire.Scanner.Messages.Where(m => m.Type == 2).Select(WireServerHello.Parse).ToList();
        var keyExchange = serverWire.Scanner.Messages.FirstOrDefault(m => m.Type == 12);
        int? curve = keyExchange is { Body: [3, var high, var low, ..] } ? (high << 8) | low : null;
        return new HandshakeRun(hellos, client.NegotiatedGroup, curve, events.Record);
    }

    private static void Move(TlsProtocol from, TlsProtocol to, HandshakeTap? tap)
    {
        var count = from.GetAvailableOutputBytes();
        if (count == 0)
        {
            return;
        }

        var bytes = new byte[count];
        from.ReadOutput(bytes, 0, count);
        tap?.Observe(bytes);
        to.OfferInput(bytes);
    }

    private sealed record HandshakeRun(IReadOnlyList<WireServerHello> ServerHellos, int ClientGroup, int? ServerKeyExchangeCurve, TlsLegRecord Leg);

    /// <summary>Like OpenSSL's defaults: x25519, P-256, then ffdhe2048 supported, one key share, x25519.</summary>
    private sealed class GroupOfferingClient(TlsCrypto crypto, ProtocolVersion version) : DefaultTlsClient(crypto)
    {
        public bool Completed { get; private set; }

        public int NegotiatedGroup => m_context.SecurityParameters.NegotiatedGroup;

        protected override ProtocolVersion[] GetSupportedVersions() => [version];

        protected override int[] GetSupportedCipherSuites() =>
            TlsUtilities.GetSupportedCipherSuites(Crypto, [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, CipherSuite.TLS_DH_anon_WITH_AES_256_GCM_SHA384]);

        protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles) => [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.ffdhe2048];

        public override IList<int> GetEarlyKeyShareGroups() => [NamedGroup.x25519];

        public override TlsAuthentication GetAuthentication() => new AnyServer();

        public override void NotifyHandshakeComplete()
        {
            base.NotifyHandshakeComplete();
            Completed = true;
        }
    }

    private sealed class AnyServer : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
            // The certificate is not under test.
        }

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
    }
}
