using Org.BouncyCastle.Crypto.Tls;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

/// <summary>The framework AES-GCM record cipher against BouncyCastle's TlsAeadCipher as the reference.</summary>
public sealed class FrameworkAesGcmCipherTests
{
    private const int Records = 300;

    /// <summary>(encryption algorithm, PRF) as the GCM suites pair them.</summary>
    public static TheoryData<int, int, int> Variants => new()
    {
        { EncryptionAlgorithm.AES_128_GCM, PrfAlgorithm.tls_prf_sha256, 1 },
        { EncryptionAlgorithm.AES_256_GCM, PrfAlgorithm.tls_prf_sha384, 2 },
        { EncryptionAlgorithm.AES_128_GCM, PrfAlgorithm.tls_prf_sha256, 3 },
        { EncryptionAlgorithm.AES_256_GCM, PrfAlgorithm.tls_prf_sha384, 4 },
    };

    private sealed record Ends(TlsCipher Framework, TlsCipher Bouncy);

    /// <summary>Both implementations at the client end and at the server end of one connection.</summary>
    private static (Ends Client, Ends Server) Connection(Random random, int encryptionAlgorithm, int prfAlgorithm)
    {
        var (client, server) = KeyedTlsContext.Pair(random, prfAlgorithm);
        var stock = new DefaultTlsCipherFactory();
        return (
            new Ends(FrameworkCipherFactory.Instance.CreateCipher(client, encryptionAlgorithm, MacAlgorithm.cls_null), stock.CreateCipher(client, encryptionAlgorithm, MacAlgorithm.cls_null)),
            new Ends(FrameworkCipherFactory.Instance.CreateCipher(server, encryptionAlgorithm, MacAlgorithm.cls_null), stock.CreateCipher(server, encryptionAlgorithm, MacAlgorithm.cls_null)));
    }

    private static (byte Type, byte[] Plaintext) RandomRecord(Random random)
    {
        // Mostly full-size and tiny records, the shapes a relay produces, plus anything in between.
        var length = random.Next(4) switch
        {
            0 => 1 << 14,
            1 => random.Next(0, 64),
            _ => random.Next(0, (1 << 14) + 1),
        };
        var plaintext = new byte[length];
        random.NextBytes(plaintext);
        byte[] types = [ContentType.application_data, ContentType.handshake, ContentType.alert, ContentType.change_cipher_spec];
        return (types[random.Next(types.Length)], plaintext);
    }

    private static long FirstSequenceNumber(Random random) => random.Next(3) switch
    {
        0 => 0,
        1 => random.NextInt64(),
        // Values whose big-endian form has the top bit set or carries across bytes.
        _ => long.MaxValue - Records + random.Next(0, Records),
    };

    [Fact]
    public void Factory_Gives_Framework_Cipher_For_Gcm_And_Leaves_Other_Suites_To_BouncyCastle()
    {
        var (client, _) = KeyedTlsContext.Pair(new Random(7), PrfAlgorithm.tls_prf_sha256);

        Assert.IsType<FrameworkAesGcmCipher>(FrameworkCipherFactory.Instance.CreateCipher(client, EncryptionAlgorithm.AES_128_GCM, MacAlgorithm.cls_null));
        Assert.IsType<FrameworkAesGcmCipher>(FrameworkCipherFactory.Instance.CreateCipher(client, EncryptionAlgorithm.AES_256_GCM, MacAlgorithm.cls_null));
        Assert.IsType<TlsBlockCipher>(FrameworkCipherFactory.Instance.CreateCipher(client, EncryptionAlgorithm.AES_128_CBC, MacAlgorithm.hmac_sha256));
        Assert.IsType<Chacha20Poly1305>(FrameworkCipherFactory.Instance.CreateCipher(client, EncryptionAlgorithm.CHACHA20_POLY1305, MacAlgorithm.cls_null));
        Assert.IsType<TlsAeadCipher>(FrameworkCipherFactory.Instance.CreateCipher(client, EncryptionAlgorithm.AES_128_CCM, MacAlgorithm.cls_null));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Encode_Is_Byte_Identical_To_BouncyCastle_At_Both_Ends(int encryptionAlgorithm, int prfAlgorithm, int seed)
    {
        var random = new Random(seed);
        var (client, server) = Connection(random, encryptionAlgorithm, prfAlgorithm);

        foreach (var end in new[] { client, server })
        {
            var seqNo = FirstSequenceNumber(random);
            for (var i = 0; i < Records; i++, seqNo++)
            {
                var (type, plaintext) = RandomRecord(random);
                var offset = random.Next(0, 5);
                var buffer = new byte[offset + plaintext.Length + random.Next(0, 5)];
                plaintext.CopyTo(buffer, offset);

                var expected = end.Bouncy.EncodePlaintext(seqNo, type, buffer, offset, plaintext.Length);
                var actual = end.Framework.EncodePlaintext(seqNo, type, buffer, offset, plaintext.Length);

                Assert.True(expected.AsSpan().SequenceEqual(actual), $"record {i}, seq {seqNo}, {plaintext.Length} bytes: ciphertext differs from BouncyCastle's");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Records_Sealed_By_Either_Implementation_Open_In_The_Other_In_Both_Directions(int encryptionAlgorithm, int prfAlgorithm, int seed)
    {
        var random = new Random(seed);
        var (client, server) = Connection(random, encryptionAlgorithm, prfAlgorithm);

        // client -> server and server -> client, each with framework sealing/BouncyCastle opening and the reverse.
        (TlsCipher Seal, TlsCipher Open, string Name)[] paths =
        [
            (client.Framework, server.Bouncy, "framework client -> BouncyCastle server"),
            (client.Bouncy, server.Framework, "BouncyCastle client -> framework server"),
            (server.Framework, client.Bouncy, "framework server -> BouncyCastle client"),
            (server.Bouncy, client.Framework, "BouncyCastle server -> framework client"),
        ];
        foreach (var (seal, open, name) in paths)
        {
            var seqNo = FirstSequenceNumber(random);
            for (var i = 0; i < Records; i++, seqNo++)
            {
                var (type, plaintext) = RandomRecord(random);
                var record = seal.EncodePlaintext(seqNo, type, plaintext, 0, plaintext.Length);

                // Open from inside a larger buffer, as the record layer does.
                var framed = new byte[5 + record.Length + 3];
                record.CopyTo(framed, 5);
                var opened = open.DecodeCiphertext(seqNo, type, framed, 5, record.Length);

                Assert.True(plaintext.AsSpan().SequenceEqual(opened), $"{name}: record {i}, seq {seqNo}, {plaintext.Length} bytes did not round-trip");
            }
        }
    }

    [Theory]
    [InlineData(EncryptionAlgorithm.AES_128_GCM)]
    [InlineData(EncryptionAlgorithm.AES_256_GCM)]
    public void Plaintext_Limit_Matches_BouncyCastle(int encryptionAlgorithm)
    {
        var (client, _) = Connection(new Random(11), encryptionAlgorithm, PrfAlgorithm.tls_prf_sha256);

        foreach (var limit in new[] { 0, 23, 24, 25, 1 << 14, (1 << 14) + 2048 })
        {
            Assert.Equal(client.Bouncy.GetPlaintextLimit(limit), client.Framework.GetPlaintextLimit(limit));
        }
    }

    /// <summary>Ways a record can be corrupted, forged, replayed or reordered; all must fail authentication.</summary>
    public static TheoryData<string> Tampering => new()
    {
        "explicit nonce bit",
        "ciphertext bit",
        "tag bit",
        "last byte",
        "truncated",
        "extended",
        "wrong sequence number",
        "wrong content type",
        "swapped bodies",
    };

    [Theory]
    [MemberData(nameof(Tampering))]
    public void Tampered_Record_Is_Rejected_With_Bad_Record_Mac_Like_BouncyCastle(string tampering)
    {
        var random = new Random(tampering.Length);
        var (client, server) = Connection(random, EncryptionAlgorithm.AES_128_GCM, PrfAlgorithm.tls_prf_sha256);
        const long seqNo = 41;
        var plaintext = new byte[1000];
        random.NextBytes(plaintext);
        var record = client.Framework.EncodePlaintext(seqNo, ContentType.application_data, plaintext, 0, plaintext.Length);
        var other = client.Framework.EncodePlaintext(seqNo + 1, ContentType.application_data, plaintext, 0, plaintext.Length);
        var type = ContentType.application_data;
        var seq = seqNo;

        switch (tampering)
        {
            case "explicit nonce bit": record[3] ^= 0x10; break;
            case "ciphertext bit": record[8 + 500] ^= 0x01; break;
            case "tag bit": record[^9] ^= 0x80; break;
            case "last byte": record[^1] ^= 0xff; break;
            case "truncated": record = record[..^1]; break;
            case "extended": record = [.. record, 0]; break;
            case "wrong sequence number": seq = seqNo + 1; break;
            case "wrong content type": type = ContentType.handshake; break;
            case "swapped bodies": other.AsSpan(8).CopyTo(record.AsSpan(8)); break;
            default: throw new ArgumentOutOfRangeException(nameof(tampering));
        }

        var framework = Assert.Throws<TlsFatalAlert>(() => server.Framework.DecodeCiphertext(seq, type, record, 0, record.Length));
        var bouncy = Assert.Throws<TlsFatalAlert>(() => server.Bouncy.DecodeCiphertext(seq, type, record, 0, record.Length));

        Assert.Equal(AlertDescription.bad_record_mac, framework.AlertDescription);
        Assert.Equal(bouncy.AlertDescription, framework.AlertDescription);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(23)]
    public void Record_Too_Short_For_Nonce_And_Tag_Is_A_Decode_Error_Like_BouncyCastle(int length)
    {
        var (_, server) = Connection(new Random(5), EncryptionAlgorithm.AES_256_GCM, PrfAlgorithm.tls_prf_sha384);
        var record = new byte[length];

        var framework = Assert.Throws<TlsFatalAlert>(() => server.Framework.DecodeCiphertext(0, ContentType.application_data, record, 0, length));
        var bouncy = Assert.Throws<TlsFatalAlert>(() => server.Bouncy.DecodeCiphertext(0, ContentType.application_data, record, 0, length));

        Assert.Equal(AlertDescription.decode_error, framework.AlertDescription);
        Assert.Equal(bouncy.AlertDescription, framework.AlertDescription);
    }

    [Fact]
    public void Empty_Record_With_Valid_Tag_Opens_To_Nothing()
    {
        var (client, server) = Connection(new Random(9), EncryptionAlgorithm.AES_128_GCM, PrfAlgorithm.tls_prf_sha256);

        var record = client.Framework.EncodePlaintext(0, ContentType.application_data, [], 0, 0);

        Assert.Equal(24, record.Length);
        Assert.Empty(server.Framework.DecodeCiphertext(0, ContentType.application_data, record, 0, record.Length));
    }
}
