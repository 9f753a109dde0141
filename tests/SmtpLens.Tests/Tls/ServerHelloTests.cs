using System.Buffers;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class ServerHelloTests
{
    private static readonly byte[] ServerRandom = [.. Enumerable.Range(0x80, 32).Select(i => (byte)i)];

    /// <summary>A ServerHello body: version, random, session id, suite, compression, then the extension block if any.</summary>
    private static byte[] ServerHelloBody(int version, int suite, byte[]? extensions)
    {
        byte[] head = [(byte)(version >> 8), (byte)version, .. ServerRandom, 4, 0xde, 0xad, 0xbe, 0xef, (byte)(suite >> 8), (byte)suite, 0];
        return extensions is null ? head : [.. head, (byte)(extensions.Length >> 8), (byte)extensions.Length, .. extensions];
    }

    private static readonly byte[] EmsAndRenegotiation = [0x00, 0x17, 0x00, 0x00, 0xff, 0x01, 0x00, 0x01, 0x00];

    [Fact]
    public void Parse_Tls12ServerHello_GivesVersionSuiteAndExtensions()
    {
        var hello = ServerHello.Parse(new HandshakeMessage(2, ServerHelloBody(0x0303, 0xc02f, EmsAndRenegotiation), 0x0303));

        Assert.Equal(0x0303, hello.LegacyVersion);
        Assert.Null(hello.SupportedVersion);
        Assert.Equal(0x0303, hello.Version);
        Assert.Equal(0xc02f, hello.CipherSuite);
        Assert.Equal([23, 0xff01], hello.Extensions);
        Assert.True(hello.ExtendedMasterSecret);
        Assert.True(hello.SecureRenegotiation);
        Assert.Equal(ServerRandom, hello.Random);
        Assert.Equal("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TlsNames.CipherSuite(hello.CipherSuite));
    }

    [Fact]
    public void Parse_Tls13ServerHello_TakesTheVersionFromSupportedVersions()
    {
        // TLS 1.3 freezes legacy_version at 1.2; the real version is in supported_versions (RFC 8446 4.1.3).
        byte[] extensions = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x00];

        var hello = ServerHello.Parse(new HandshakeMessage(2, ServerHelloBody(0x0303, 0x1301, extensions), 0x0303));

        Assert.Equal(0x0303, hello.LegacyVersion);
        Assert.Equal(0x0304, hello.SupportedVersion);
        Assert.Equal(0x0304, hello.Version);
        Assert.Equal([43, 51], hello.Extensions);
        Assert.False(hello.ExtendedMasterSecret);
        Assert.False(hello.SecureRenegotiation);
    }

    [Fact]
    public void Parse_ServerHelloWithoutExtensionBlock_HasNoExtensions()
    {
        var hello = ServerHello.Parse(new HandshakeMessage(2, ServerHelloBody(0x0301, 0x002f, null), 0x0301));

        Assert.Equal(0x0301, hello.Version);
        Assert.Empty(hello.Extensions);
        Assert.False(hello.SecureRenegotiation);
    }

    [Fact]
    public void Parse_NotAServerHello_ThrowsFormatException()
    {
        Assert.Throws<FormatException>(() => ServerHello.Parse(new HandshakeMessage(1, ServerHelloBody(0x0303, 0xc02f, null), 0x0303)));
    }

    [Fact]
    public void Parse_EveryTruncation_ThrowsFormatExceptionUnlessItEndsBeforeTheExtensions()
    {
        var body = ServerHelloBody(0x0303, 0xc02f, EmsAndRenegotiation);
        var endOfCompression = 2 + 32 + 1 + 4 + 2 + 1;

        for (var length = 0; length < body.Length; length++)
        {
            var message = new HandshakeMessage(2, body[..length], 0x0303);
            if (length == endOfCompression)
            {
                Assert.Empty(ServerHello.Parse(message).Extensions);
            }
            else
            {
                Assert.Throws<FormatException>(() => ServerHello.Parse(message));
            }
        }
    }

    [Fact]
    public void Parse_SeededMutations_OnlyEverThrowFormatException()
    {
        var random = new Random(5246);
        var original = ServerHelloBody(0x0303, 0xc02f, [.. EmsAndRenegotiation, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var body = (byte[])original.Clone();
            body[random.Next(body.Length)] = (byte)random.Next(256);
            body = body[..random.Next(body.Length / 2, body.Length + 1)];
            try
            {
                var hello = ServerHello.Parse(new HandshakeMessage(2, body, 0x0303));
                Assert.Equal(32, hello.Random.Length);
            }
            catch (FormatException)
            {
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"iteration {iteration}: body {SmtpLens.Tests.Support.Bytes.Literal(body)}", e);
            }
        }
    }

    [Fact]
    public void Parse_ServerHelloFromScannedRecord_MatchesTheHandBuiltFields()
    {
        var record = TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(2, ServerHelloBody(0x0303, 0xcca8, EmsAndRenegotiation)));
        var scanner = new TlsRecordScanner();
        var buffer = new ReadOnlySequence<byte>(record);
        scanner.Scan(ref buffer);

        var hello = ServerHello.Parse(Assert.Single(scanner.Messages));

        Assert.Equal(0xcca8, hello.CipherSuite);
        Assert.Equal(0x0303, hello.Version);
    }
}

public sealed class CertificateMessageTests
{
    private static byte[] CertificateBody(params byte[][] certificates)
    {
        var list = certificates.SelectMany(c => (byte[])[(byte)(c.Length >> 16), (byte)(c.Length >> 8), (byte)c.Length, .. c]).ToArray();
        return [(byte)(list.Length >> 16), (byte)(list.Length >> 8), (byte)list.Length, .. list];
    }

    private static byte[][] IssuedChain() => TlsTestCertificates.Der(TlsTestCertificates.Upstream.Issue(
        "mx.example.test", ["mx.example.test"], TlsTestCertificates.Now.AddDays(-1), TlsTestCertificates.Now.AddDays(30)));

    [Fact]
    public void Parse_TwoDerCertificates_GivesThemBackLeafFirst()
    {
        var chain = IssuedChain();

        var parsed = CertificateMessage.Parse(new HandshakeMessage(11, CertificateBody(chain), 0x0303));

        Assert.Equal(2, parsed.Count);
        Assert.Equal(chain[0], parsed[0]);
        Assert.Equal(chain[1], parsed[1]);
        Assert.Equal("CN=mx.example.test", CertificateSummary.FromDer(parsed[0]).Subject);
        Assert.True(CertificateSummary.FromDer(parsed[1]).IsSelfIssued);
    }

    [Fact]
    public void Parse_EmptyList_GivesNoCertificates()
    {
        // What a client without a certificate sends after a CertificateRequest.
        Assert.Empty(CertificateMessage.Parse(new HandshakeMessage(11, [0, 0, 0], 0x0303)));
    }

    [Fact]
    public void Parse_NotACertificateMessage_ThrowsFormatException()
    {
        Assert.Throws<FormatException>(() => CertificateMessage.Parse(new HandshakeMessage(2, [0, 0, 0], 0x0303)));
    }

    [Fact]
    public void Parse_CertificateLengthOverrunningTheList_ThrowsFormatException()
    {
        var body = CertificateBody(IssuedChain());
        body[3] = 0x7f; // first certificate's length now far exceeds the list

        Assert.Throws<FormatException>(() => CertificateMessage.Parse(new HandshakeMessage(11, body, 0x0303)));
    }

    [Fact]
    public void Parse_TruncatedMessage_ThrowsFormatException()
    {
        var body = CertificateBody(IssuedChain());

        Assert.Throws<FormatException>(() => CertificateMessage.Parse(new HandshakeMessage(11, body[..^1], 0x0303)));
    }

    [Fact]
    public void EcdheGroup_NamedCurveServerKeyExchange_GivesTheGroup()
    {
        // RFC 8422 5.4: curve_type named_curve (3), x25519 (0x001d), then the 32-byte public point and a signature.
        byte[] body = [3, 0x00, 0x1d, 32, .. new byte[32], 0x08, 0x04, 0x00, 0x01, 0xAA];

        var group = ServerKeyExchange.EcdheGroup(new HandshakeMessage(12, body, 0x0303));

        Assert.Equal(0x001d, group);
        Assert.Equal("x25519", TlsNames.Group(group!.Value));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(11)]
    public void EcdheGroup_OtherMessagesOrCurveTypes_IsNull(byte type)
    {
        Assert.Null(ServerKeyExchange.EcdheGroup(new HandshakeMessage(type, [3, 0x00, 0x17, 0], 0x0303)));
        Assert.Null(ServerKeyExchange.EcdheGroup(new HandshakeMessage(12, [1, 0x00, 0x17, 0], 0x0303)));
        Assert.Null(ServerKeyExchange.EcdheGroup(new HandshakeMessage(12, [3, 0x00], 0x0303)));
    }
}
