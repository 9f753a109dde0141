using System.Buffers.Binary;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class ClientHelloTests
{
    private static ClientHello Parse(byte[] record) => ClientHello.Parse(TlsHelloVectors.Message(record));

    [Fact]
    public void Parse_BouncyCastleHello_ShowsWhatSmtpLensOffersUpstream()
    {
        var hello = Parse(TlsHelloVectors.BouncyCastleRecord);

        Assert.Equal(TlsHelloVectors.ServerName, hello.ServerName);
        // BouncyCastle 2.x writes the first record as TLS 1.0, as OpenSSL does, for old middleboxes.
        Assert.Equal(0x0301, hello.RecordVersion);
        Assert.Equal(0x0303, hello.LegacyVersion);
        Assert.Empty(hello.SupportedVersions);
        Assert.Equal(0x0303, hello.MaxVersion);
        Assert.Equal(32, hello.Random.Length);
        Assert.Equal(0, hello.SessionIdLength);

        // The policy's suites in order, then the RFC 5746 SCSV BouncyCastle adds instead of renegotiation_info.
        Assert.Equal([.. TlsPolicy.ModernSuites, 0x00ff], hello.CipherSuites);
        Assert.True(hello.OffersSecureRenegotiation);
        Assert.DoesNotContain(0xff01, hello.Extensions);
        Assert.True(hello.OffersExtendedMasterSecret);
        Assert.Equal([29, 30, 23, 24, 256, 257, 258], hello.SupportedGroups);
        Assert.Equal([0], hello.EcPointFormats);
        Assert.Contains(0x0401, hello.SignatureAlgorithms);
        Assert.Empty(hello.Alpn);
    }

    [Fact]
    public void Parse_BouncyCastleHelloWithoutServerName_HasNoSni()
    {
        var hello = Parse(TlsHelloVectors.BouncyCastleClientHello(TlsPolicy.Default, serverName: null));

        Assert.Null(hello.ServerName);
        Assert.DoesNotContain(0, hello.Extensions);
    }

    [Fact]
    public void Parse_BouncyCastleHelloForAnIpAddress_HasNoSni()
    {
        // RFC 6066 3: literal IP addresses are not permitted in server_name.
        var hello = Parse(TlsHelloVectors.BouncyCastleClientHello(TlsPolicy.Default, serverName: "192.0.2.25"));

        Assert.Null(hello.ServerName);
    }

    [Fact]
    public void Parse_LegacyPolicyHello_OffersTls12WithTheLegacySuites()
    {
        var hello = Parse(TlsHelloVectors.BouncyCastleClientHello(TlsPolicy.Legacy.CappedAt(0x0303)));

        Assert.Equal(0x0303, hello.MaxVersion);
        Assert.Contains(0x0005, hello.CipherSuites); // TLS_RSA_WITH_RC4_128_SHA
        Assert.Contains("TLS_RSA_WITH_RC4_128_MD5", (IEnumerable<string>)hello.ToData()["cipherSuites"]!);
    }

    [Fact]
    public void Parse_DefaultPolicyHello_OffersTls13And12_WithKeyShares()
    {
        var hello = Parse(TlsHelloVectors.BouncyCastleClientHello(TlsPolicy.Default));

        Assert.Equal(0x0304, hello.MaxVersion);
        Assert.Equal([0x0304, 0x0303], hello.SupportedVersions);
        Assert.Equal([.. TlsPolicy.Tls13Suites, .. TlsPolicy.ModernSuites], hello.CipherSuites.Where(s => s != 0x00ff));
        Assert.NotEmpty(hello.KeyShareGroups);
        Assert.False(hello.AttemptsPskResumption);
    }

    [Fact]
    public void Ja3_BouncyCastleHello_IsStableAcrossConnections()
    {
        // Random and key material change per connection; the fingerprint must not.
        var first = Parse(TlsHelloVectors.BouncyCastleRecord);
        var second = Parse(TlsHelloVectors.BouncyCastleClientHello(TlsPolicy.Default.CappedAt(0x0303)));

        Assert.NotEqual(first.Random, second.Random);
        Assert.Equal("771,49195-49199-49196-49200-52393-52392-158-159-255,22-23-0-5-13-10-11,29-30-23-24-256-257-258,0", first.Ja3String);
        Assert.Equal(first.Ja3Hash, second.Ja3Hash);
    }

    [Fact]
    public async Task Parse_SslStreamHello_ShowsTls13Offer()
    {
        var record = await TlsHelloVectors.SslStreamRecordAsync();

        var hello = Parse(record);

        Assert.Equal(TlsHelloVectors.ServerName, hello.ServerName);
        Assert.Equal(0x0303, hello.LegacyVersion);
        Assert.Contains(0x0304, hello.SupportedVersions);
        Assert.Equal(0x0304, hello.MaxVersion);
        Assert.Contains(0x1301, hello.CipherSuites);
        Assert.Contains(29, hello.SupportedGroups);
        Assert.Contains(51, hello.Extensions); // key_share
        Assert.Contains(43, hello.Extensions); // supported_versions
        Assert.Contains(0x0804, hello.SignatureAlgorithms);
        Assert.Equal(["smtp"], hello.Alpn);
        Assert.True(hello.OffersExtendedMasterSecret);

        // OpenSSL does not GREASE.
        Assert.DoesNotContain(hello.CipherSuites.Concat(hello.Extensions).Concat(hello.SupportedGroups).Concat(hello.SupportedVersions), TlsNames.IsGrease);
        var data = hello.ToData();
        Assert.Equal("TLSv1.3", data["maxVersion"]);
        Assert.Contains("TLS_AES_128_GCM_SHA256", (IEnumerable<string>)data["cipherSuites"]!);
        Assert.Contains("x25519", (IEnumerable<string>)data["supportedGroups"]!);
        Assert.Contains("key_share", (IEnumerable<string>)data["extensions"]!);
        Assert.Contains("rsa_pss_rsae_sha256", (IEnumerable<string>)data["signatureAlgorithms"]!);
    }

    [Fact]
    public void Parse_GreaseHello_ReadsEveryField()
    {
        var hello = Parse(TlsHelloVectors.GreaseRecord);

        Assert.Equal(0x0301, hello.RecordVersion);
        Assert.Equal(0x0303, hello.LegacyVersion);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)i), hello.Random);
        Assert.Equal(32, hello.SessionIdLength);
        Assert.Equal([0x5a5a, 0x1301, 0xc02f, 0xcca8, 0x00ff], hello.CipherSuites);
        Assert.Equal([0x0a0a, 0, 23, 0xff01, 10, 11, 13, 16, 43, 51, 0xfafa], hello.Extensions);
        Assert.Equal("mx.example.test", hello.ServerName);
        Assert.Equal([0x2a2a, 29, 23, 24], hello.SupportedGroups);
        Assert.Equal([0], hello.EcPointFormats);
        Assert.Equal([0x0403, 0x0804, 0x0401], hello.SignatureAlgorithms);
        Assert.Equal(["smtp"], hello.Alpn);
        Assert.Equal([0x3a3a, 0x0304, 0x0303], hello.SupportedVersions);
    }

    [Fact]
    public void MaxVersion_GreaseVersionOffered_IsIgnored()
    {
        // 0x3a3a is numerically larger than 0x0304: taking the plain maximum would report GREASE.
        Assert.Equal(0x0304, Parse(TlsHelloVectors.GreaseRecord).MaxVersion);
    }

    [Fact]
    public void MaxVersion_OnlyGreaseInSupportedVersions_FallsBackToTheLegacyVersion()
    {
        var hello = Parse(TlsHelloVectors.GreaseRecord) with { SupportedVersions = [0x7a7a] };

        Assert.Equal(0x0303, hello.MaxVersion);
    }

    [Fact]
    public void ToData_GreaseHello_NamesGreaseValuesAsGrease()
    {
        var data = Parse(TlsHelloVectors.GreaseRecord).ToData();

        // 0xCCA8's name is covered by TlsNamesTests (see CipherSuite_ChaChaSuites_HaveTheirIanaNames).
        var suites = ((IEnumerable<string>)data["cipherSuites"]!).ToList();
        Assert.Equal(5, suites.Count);
        Assert.Equal(["GREASE", "TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], suites[..3]);
        Assert.Equal("TLS_EMPTY_RENEGOTIATION_INFO_SCSV", suites[4]);
        Assert.Equal(["GREASE", "x25519", "secp256r1", "secp384r1"], (IEnumerable<string>)data["supportedGroups"]!);
        Assert.Equal(["GREASE", "TLSv1.3", "TLSv1.2"], (IEnumerable<string>)data["supportedVersions"]!);
        Assert.Equal("GREASE", ((IEnumerable<string>)data["extensions"]!).First());
        Assert.Equal("mx.example.test", data["sni"]);
        Assert.Equal(true, data["extendedMasterSecret"]);
        Assert.Equal(true, data["secureRenegotiation"]);
    }

    [Fact]
    public void Ja3_GreaseHello_MatchesTheHandComputedFingerprint()
    {
        var hello = Parse(TlsHelloVectors.GreaseRecord);

        Assert.Equal(TlsHelloVectors.GreaseJa3, hello.Ja3String);
        Assert.Equal(TlsHelloVectors.GreaseJa3Hash, hello.Ja3Hash);
    }

    [Fact]
    public void Ja3_GreaseValuesChanged_GivesTheSameFingerprint()
    {
        // Chrome picks new GREASE values per connection; JA3 exists to be stable across that.
        var record = (byte[])TlsHelloVectors.GreaseRecord.Clone();
        Replace(record, [0x5a, 0x5a, 0x13, 0x01], [0xba, 0xba, 0x13, 0x01]);
        Replace(record, [0x2a, 0x2a, 0x00, 0x1d], [0xca, 0xca, 0x00, 0x1d]);
        Replace(record, [0xfa, 0xfa, 0x00, 0x01], [0x8a, 0x8a, 0x00, 0x01]);

        var hello = Parse(record);

        Assert.Contains(0xbaba, hello.CipherSuites);
        Assert.Equal(TlsHelloVectors.GreaseJa3Hash, hello.Ja3Hash);
    }

    [Theory]
    [InlineData(new[] { 0xc02f, 0x00ff }, new int[0], true)]
    [InlineData(new[] { 0xc02f }, new[] { 0xff01 }, true)]
    [InlineData(new[] { 0xc02f }, new[] { 23 }, false)]
    public void OffersSecureRenegotiation_ExtensionOrScsv_IsDetected(int[] suites, int[] extensions, bool expected)
    {
        var hello = Parse(TlsHelloVectors.GreaseRecord) with { CipherSuites = suites, Extensions = extensions };

        Assert.Equal(expected, hello.OffersSecureRenegotiation);
        Assert.Equal(extensions.Contains(23), hello.OffersExtendedMasterSecret);
    }

    [Fact]
    public void Parse_HelloWithoutExtensions_HasEmptyLists()
    {
        // SSLv3-era clients end the ClientHello after the compression methods.
        byte[] body = [0x03, 0x01, .. new byte[32], 0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00];

        var hello = ClientHello.Parse(new HandshakeMessage(1, body, 0x0301));

        Assert.Equal(0x0301, hello.MaxVersion);
        Assert.Equal([0x002f], hello.CipherSuites);
        Assert.Empty(hello.Extensions);
        Assert.Null(hello.ServerName);
        Assert.False(hello.OffersSecureRenegotiation);
        Assert.Equal("769,47,,,", hello.Ja3String);
    }

    [Fact]
    public void Parse_NotAClientHello_ThrowsFormatException()
    {
        var e = Assert.Throws<FormatException>(() => ClientHello.Parse(new HandshakeMessage(2, new byte[40], 0x0303)));

        Assert.Contains("ClientHello", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_CipherSuiteLengthOverrunningTheBody_ThrowsFormatException()
    {
        var body = TlsHelloVectors.Message(TlsHelloVectors.GreaseRecord).Body;
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2 + 32 + 1 + 32), 0xfffe);

        var e = Assert.Throws<FormatException>(() => ClientHello.Parse(new HandshakeMessage(1, body, 0x0301)));

        Assert.Contains("overruns", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ServerNameLengthOverrunningItsExtension_ThrowsFormatException()
    {
        var body = TlsHelloVectors.Message(TlsHelloVectors.GreaseRecord).Body;
        byte[] nameStart = [0x00, 0x00, 0x0f, (byte)'m', (byte)'x']; // host_name type, then the 15-byte name length
        var at = body.AsSpan().IndexOf(nameStart);
        body[at + 2] = 0x10;

        Assert.Throws<FormatException>(() => ClientHello.Parse(new HandshakeMessage(1, body, 0x0301)));
    }

    [Fact]
    public void Parse_EveryTruncation_ThrowsFormatExceptionUnlessItEndsBeforeTheExtensions()
    {
        var body = TlsHelloVectors.Message(TlsHelloVectors.BouncyCastleRecord).Body;
        var suites = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(2 + 32 + 1));
        var endOfCompression = 2 + 32 + 1 + 0 + 2 + suites + 2; // session id empty, one compression method

        for (var length = 0; length < body.Length; length++)
        {
            var message = new HandshakeMessage(1, body[..length], 0x0303);
            if (length == endOfCompression)
            {
                Assert.Empty(ClientHello.Parse(message).Extensions);
            }
            else
            {
                Assert.Throws<FormatException>(() => ClientHello.Parse(message));
            }
        }
    }

    [Fact]
    public void Parse_SeededMutationsOfRealHellos_OnlyEverThrowFormatException()
    {
        // Whatever a broken or hostile client sends, the session must only see "malformed ClientHello".
        var random = new Random(6125);
        var seeds = new[] { TlsHelloVectors.BouncyCastleRecord, TlsHelloVectors.GreaseRecord }
            .Select(r => TlsHelloVectors.Message(r).Body)
            .ToArray();
        var parsed = 0;
        for (var iteration = 0; iteration < 5000; iteration++)
        {
            var body = Mutate(random, seeds[iteration % seeds.Length]);
            try
            {
                var hello = ClientHello.Parse(new HandshakeMessage(1, body, 0x0303));
                _ = hello.ToData(); // names, JA3 and MaxVersion must cope with whatever was parsed
                parsed++;
            }
            catch (FormatException)
            {
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"iteration {iteration}: {e.GetType().Name} for body {Bytes.Literal(body)}", e);
            }
        }

        // Both outcomes must have been exercised, or the mutations say nothing.
        Assert.InRange(parsed, 100, 4900);
    }

    private static byte[] Mutate(Random random, byte[] original)
    {
        var body = (byte[])original.Clone();
        switch (random.Next(4))
        {
            case 0:
                return body[..random.Next(body.Length)];
            case 1:
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    body[random.Next(body.Length)] ^= (byte)(1 << random.Next(8));
                }

                return body;
            case 2:
                // Length bytes at interesting values: 0, 0xff, or one off.
                var at = random.Next(body.Length);
                body[at] = random.Next(3) switch { 0 => 0, 1 => 0xff, _ => (byte)(body[at] + 1) };
                return body;
            default:
                body[random.Next(body.Length)] = (byte)random.Next(256);
                return body[..random.Next(body.Length / 2, body.Length + 1)];
        }
    }

    private static void Replace(byte[] bytes, byte[] find, byte[] with)
    {
        var at = bytes.AsSpan().IndexOf(find);
        Assert.True(at >= 0);
        with.CopyTo(bytes.AsSpan(at));
    }
}
