namespace SmtpLens.Tls;

/// <summary>What the server chose.</summary>
internal sealed record ServerHello(int LegacyVersion, int? SupportedVersion, int CipherSuite, IReadOnlyList<int> Extensions, byte[] Random)
{
    public int Version => SupportedVersion ?? LegacyVersion;

    public bool ExtendedMasterSecret => Extensions.Contains(23);

    public bool SecureRenegotiation => Extensions.Contains(0xff01);

    /// <summary>RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello whose random is this fixed value.</summary>
    public bool IsHelloRetryRequest => Random.AsSpan().SequenceEqual(HelloRetryRandom);

    private static ReadOnlySpan<byte> HelloRetryRandom =>
    [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ];

    public static ServerHello Parse(HandshakeMessage message)
    {
        if (message.Type != 2)
        {
            throw new FormatException($"expected ServerHello (2), got handshake type {message.Type}");
        }

        var r = new WireReader(message.Body);
        var version = r.U16();
        var random = r.Take(32).ToArray();
        r.Vector8();
        var suite = r.U16();
        r.U8();
        var extensions = new List<int>();
        int? selected = null;
        if (r.Remaining > 0)
        {
            var ext = new WireReader(r.Vector16());
            while (ext.Remaining > 0)
            {
                var type = ext.U16();
                var data = ext.Vector16();
                extensions.Add(type);
                if (type == 43 && data.Length == 2)
                {
                    selected = (data[0] << 8) | data[1];
                }
            }
        }

        return new ServerHello(version, selected, suite, extensions, random);
    }
}

/// <summary>The Certificate handshake message of TLS 1.2 and earlier: DER certificates, leaf first.</summary>
internal static class CertificateMessage
{
    public static IReadOnlyList<byte[]> Parse(HandshakeMessage message)
    {
        if (message.Type != 11)
        {
            throw new FormatException($"expected Certificate (11), got handshake type {message.Type}");
        }

        var list = new WireReader(new WireReader(message.Body).Vector24());
        var certificates = new List<byte[]>();
        while (list.Remaining > 0)
        {
            certificates.Add(list.Vector24().ToArray());
        }

        return certificates;
    }
}

/// <summary>The part of a TLS 1.2 ServerKeyExchange worth recording: the ECDHE group.</summary>
internal static class ServerKeyExchange
{
    /// <summary>RFC 8422 5.4: ECParameters start with curve_type named_curve (3) and the group. Only meaningful
    /// for an ECDHE suite: a DHE message starts with the prime's length instead.</summary>
    public static int? EcdheGroup(HandshakeMessage message) =>
        message.Type == 12 && message.Body.Length >= 3 && message.Body[0] == 3 ? (message.Body[1] << 8) | message.Body[2] : null;
}
