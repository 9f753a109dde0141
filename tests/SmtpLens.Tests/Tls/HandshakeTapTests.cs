using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class HandshakeTapTests
{
    private static byte[] ServerFlight(out byte[][] chain)
    {
        chain = TlsTestCertificates.Der(TlsTestCertificates.Upstream.Issue(
            "mx.example.test", ["mx.example.test"], TlsTestCertificates.Now.AddDays(-1), TlsTestCertificates.Now.AddDays(30)));
        byte[] serverHello = [0x03, 0x03, .. new byte[32], 0, 0xc0, 0x2f, 0, 0, 4, 0x00, 0x17, 0x00, 0x00];
        var list = chain.SelectMany(c => (byte[])[(byte)(c.Length >> 16), (byte)(c.Length >> 8), (byte)c.Length, .. c]).ToArray();
        byte[] certificate = [(byte)(list.Length >> 16), (byte)(list.Length >> 8), (byte)list.Length, .. list];

        // The certificate message is larger than one record may be after re-framing: split it in 1000-byte records.
        byte[] certificateRecord = [22, 3, 3, 0, 0, .. TlsHelloVectors.Handshake(11, certificate)];
        return
        [
            .. TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(2, serverHello)),
            .. TlsHelloVectors.Reframe(certificateRecord, 1000),
            .. TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(14, [])),
            .. TlsHelloVectors.Record(20, 1),
            .. TlsHelloVectors.Record(22, [0x14, 0, 0, 12, .. new byte[28]]), // encrypted Finished
        ];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(512)]
    [InlineData(100_000)]
    public void Observe_ServerFlightInReadsOfAnySize_FindsServerHelloAndCertificates(int readSize)
    {
        var flight = ServerFlight(out var chain);
        var tap = new HandshakeTap();

        for (var offset = 0; offset < flight.Length; offset += readSize)
        {
            tap.Observe(flight.AsSpan(offset, Math.Min(readSize, flight.Length - offset)));
        }

        Assert.True(tap.Done);
        Assert.Null(tap.Problem);
        Assert.Equal(0xc02f, tap.Find(2, ServerHello.Parse)?.CipherSuite);
        var certificates = tap.Find(11, CertificateMessage.Parse);
        Assert.NotNull(certificates);
        Assert.Equal(chain, certificates);
        Assert.Equal([2, 11, 14], tap.Scanner.Messages.Select(m => (int)m.Type));
    }

    [Fact]
    public void Observe_PlainSmtp_StopsWithTheScannerProblem()
    {
        var tap = new HandshakeTap();

        tap.Observe("220 mx.example.test ESMTP\r\n"u8);
        tap.Observe(TlsHelloVectors.GreaseRecord);

        Assert.True(tap.Done);
        Assert.Contains("not a TLS record", tap.Problem, StringComparison.Ordinal);
        Assert.Empty(tap.Scanner.Messages);
    }

    [Fact]
    public void Observe_OversizedRecord_Stops()
    {
        var tap = new HandshakeTap();

        tap.Observe([0x16, 0x03, 0x03, 0xff, 0xff]);

        Assert.True(tap.Done);
        Assert.Contains("65535", tap.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_MessageNotSeen_ReturnsNull()
    {
        var tap = new HandshakeTap();
        tap.Observe(TlsHelloVectors.GreaseRecord);

        Assert.False(tap.Done);
        Assert.NotNull(tap.Find(1, ClientHello.Parse));
        Assert.Null(tap.Find(2, ServerHello.Parse));
    }

    [Fact]
    public void Find_MalformedMessage_ReturnsNullInsteadOfThrowing()
    {
        var tap = new HandshakeTap();
        tap.Observe(TlsHelloVectors.Record(22, TlsHelloVectors.Handshake(1, [0x03, 0x03, 0x00])));

        Assert.Single(tap.Scanner.Messages);
        Assert.Null(tap.Find(1, ClientHello.Parse));
    }

    [Fact]
    public async Task TappedStream_BytesBothWays_PassThroughAndAreTapped()
    {
        var serverFlight = ServerFlight(out _);
        using var input = new MemoryStream(serverFlight);
        using var output = new MemoryStream();
        await using var tapped = new TappedStream(input, output, new HandshakeTap(), new HandshakeTap());

        await tapped.WriteAsync(TlsHelloVectors.GreaseRecord);
        var received = new MemoryStream();
        var buffer = new byte[97];
        int n;
        while ((n = await tapped.ReadAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        Assert.Equal(TlsHelloVectors.GreaseRecord, output.ToArray());
        Assert.Equal(serverFlight, received.ToArray());
        Assert.Equal("mx.example.test", tapped.Outbound.Find(1, ClientHello.Parse)?.ServerName);
        Assert.Equal(0xc02f, tapped.Inbound.Find(2, ServerHello.Parse)?.CipherSuite);
        Assert.True(tapped.Inbound.Done);
    }
}
