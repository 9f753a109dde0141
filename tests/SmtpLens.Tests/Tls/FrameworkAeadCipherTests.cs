using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Tls;
using SmtpLens.Tls.Engine;

namespace SmtpLens.Tests.Tls;

/// <summary>The framework AEAD against BouncyCastle's own implementation of the same algorithm, byte for byte.</summary>
public sealed class FrameworkAeadCipherTests
{

    private static (byte[] Key, byte[] Nonce, byte[] Aad, byte[] Plaintext) Inputs(int seed, int keySize, int length)
    {
        var random = new Random(seed);
        byte[] key = new byte[keySize], nonce = new byte[12], aad = new byte[13], plaintext = new byte[length];
        random.NextBytes(key);
        random.NextBytes(nonce);
        random.NextBytes(aad);
        random.NextBytes(plaintext);
        return (key, nonce, aad, plaintext);
    }

    [Theory]
    [InlineData(16, 0, 1)]
    [InlineData(16, 1, 2)]
    [InlineData(32, 1000, 3)]
    [InlineData(32, 16384 + 1, 4)]
    public void Gcm_Seals_In_Place_Exactly_As_BouncyCastle_And_Opens_Its_Records(int keySize, int length, int seed)
    {
        var (key, nonce, aad, plaintext) = Inputs(seed, keySize, length);

        var ours = new FrameworkAeadCipher(encrypt: true, chaCha: false);
        ours.SetKey(key, 0, key.Length);
        ours.Init(nonce, 16, null!);
        var buffer = new byte[5 + length + 16];
        plaintext.CopyTo(buffer, 5);
        Assert.Equal(length + 16, ours.DoFinal(aad, buffer, 5, length, buffer, 5));

        var theirs = new GcmBlockCipher(new AesEngine());
        theirs.Init(true, new AeadParameters(new KeyParameter(key), 128, nonce, aad));
        var expected = new byte[length + 16];
        theirs.DoFinal(expected, theirs.ProcessBytes(plaintext, 0, length, expected, 0));
        Assert.Equal(expected, buffer[5..]);

        var open = new FrameworkAeadCipher(encrypt: false, chaCha: false);
        open.SetKey(key, 0, key.Length);
        open.Init(nonce, 16, null!);
        Assert.Equal(length, open.DoFinal(aad, expected, 0, expected.Length, expected, 0));
        Assert.Equal(plaintext, expected[..length]);
    }

    [Theory]
    [InlineData("ciphertext")]
    [InlineData("tag")]
    [InlineData("aad")]
    public void Tampered_Record_Is_Bad_Record_Mac(string where)
    {
        foreach (var chaCha in new[] { false, true })
        {
            var (key, nonce, aad, plaintext) = Inputs(7, 32, 100);
            var seal = new FrameworkAeadCipher(true, chaCha);
            seal.SetKey(key);
            seal.Init(nonce, 16, null!);
            var record = new byte[116];
            seal.DoFinal(aad, plaintext, 0, 100, record, 0);
            switch (where)
            {
                case "ciphertext": record[3] ^= 1; break;
                case "tag": record[^1] ^= 0x80; break;
                default: aad[0] ^= 1; break;
            }

            var open = new FrameworkAeadCipher(false, chaCha);
            open.SetKey(key);
            open.Init(nonce, 16, null!);
            var e = Assert.Throws<TlsFatalAlert>(() => open.DoFinal(aad, record, 0, record.Length, record, 0));
            Assert.Equal(AlertDescription.bad_record_mac, e.AlertDescription);
            Assert.IsType<AuthenticationTagMismatchException>(e.InnerException);
        }
    }

    [Fact]
    public void ChaCha20_Matches_BouncyCastle()
    {
        // The relay relies on it for the ChaCha20 suites; OpenSSL 3 has it.
        Assert.True(FrameworkAeadCipher.IsSupported(chaCha: true));
        var (key, nonce, aad, plaintext) = Inputs(11, 32, 3000);
        var ours = new FrameworkAeadCipher(true, true);
        ours.SetKey(key);
        ours.Init(nonce, 16, null!);
        var sealedRecord = new byte[3016];
        ours.DoFinal(aad, plaintext, 0, 3000, sealedRecord, 0);

        var reference = new Org.BouncyCastle.Crypto.Modes.ChaCha20Poly1305();
        reference.Init(true, new AeadParameters(new KeyParameter(key), 128, nonce, aad));
        var expected = new byte[reference.GetOutputSize(3000)];
        var n = reference.ProcessBytes(plaintext, 0, 3000, expected, 0);
        reference.DoFinal(expected, n);
        Assert.Equal(expected, sealedRecord);
    }
}
