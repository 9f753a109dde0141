using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using SmtpLens.Tls.Engine;
using BcHashAlgorithm = Org.BouncyCastle.Tls.HashAlgorithm;
using CertificateRequest = System.Security.Cryptography.X509Certificates.CertificateRequest;

namespace SmtpLens.Tests.Tls;

/// <summary>The framework's checks of peers' handshake signatures, with BouncyCastle's own verifier as the reference.</summary>
public sealed class FrameworkVerifierTests
{
    private static readonly EngineCrypto Crypto = new(new SecureRandom());

    private static byte[] Signed(int seed)
    {
        // What TLS 1.3 signs: 64 spaces, a context string, a zero byte, the transcript hash.
        var data = new byte[64 + 34 + 48];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] SelfSigned(AsymmetricAlgorithm key)
    {
        var request = key is RSA rsa
            ? new CertificateRequest("CN=mx.example.test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=mx.example.test", (ECDsa)key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return certificate.RawData;
    }

    private static (bool Framework, bool Bouncy) Verify13(byte[] der, int scheme, byte[] data, byte[] signature)
    {
        // As BouncyCastle does in a handshake: write, close the stream, then ask.
        var framework = Crypto.CreateCertificate(der).CreateVerifier(scheme);
        framework.Stream.Write(data);
        framework.Stream.Dispose();
        var bouncy = new BcTlsCertificate(Crypto, der).CreateVerifier(scheme);
        bouncy.Stream.Write(data);
        bouncy.Stream.Dispose();
        return (framework.VerifySignature(signature), BouncyVerdict(bouncy, signature));
    }

    // BouncyCastle's RSA throws instead of answering false when a signature is numerically larger than the modulus
    // (about half of another key's signatures): that is its way of rejecting it.
    private static bool BouncyVerdict(Org.BouncyCastle.Tls.Crypto.Tls13Verifier bouncy, byte[] signature)
    {
        try
        {
            return bouncy.VerifySignature(signature);
        }
        catch (Org.BouncyCastle.Crypto.DataLengthException)
        {
            return false;
        }
    }

    [Fact]
    public void EngineCrypto_GivesPeerCertificatesTheFrameworkVerifier()
    {
        using var rsa = RSA.Create(2048);
        Assert.IsType<FrameworkVerifyingCertificate>(Crypto.CreateCertificate(SelfSigned(rsa)));
    }

    [Theory]
    [InlineData(SignatureScheme.rsa_pss_rsae_sha256, "SHA256")]
    [InlineData(SignatureScheme.rsa_pss_rsae_sha384, "SHA384")]
    [InlineData(SignatureScheme.rsa_pss_rsae_sha512, "SHA512")]
    public void Tls13_RsaPss_AcceptsWhatBouncyCastleAccepts_RejectsTampering(int scheme, string hash)
    {
        using var rsa = RSA.Create(2048);
        var der = SelfSigned(rsa);
        var data = Signed(scheme);
        var signature = rsa.SignData(data, new HashAlgorithmName(hash), RSASignaturePadding.Pss);

        Assert.Equal((true, true), Verify13(der, scheme, data, signature));
        var tampered = (byte[])data.Clone();
        tampered[^1] ^= 1;
        Assert.Equal((false, false), Verify13(der, scheme, tampered, signature));
        signature[10] ^= 0x40;
        Assert.Equal((false, false), Verify13(der, scheme, data, signature));
    }

    [Fact]
    public void Tls13_RsaPss_SignatureOfAnotherKey_IsRejected()
    {
        using var rsa = RSA.Create(2048);
        using var other = RSA.Create(2048);
        var data = Signed(7);
        Assert.Equal((false, false), Verify13(SelfSigned(rsa), SignatureScheme.rsa_pss_rsae_sha256, data, other.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss)));
    }

    [Theory]
    [InlineData(SignatureScheme.ecdsa_secp256r1_sha256, "nistP256", "SHA256")]
    [InlineData(SignatureScheme.ecdsa_secp384r1_sha384, "nistP384", "SHA384")]
    [InlineData(SignatureScheme.ecdsa_secp521r1_sha512, "nistP521", "SHA512")]
    public void Tls13_Ecdsa_AcceptsWhatBouncyCastleAccepts_RejectsTampering(int scheme, string curve, string hash)
    {
        using var ecdsa = ECDsa.Create(ECCurve.CreateFromFriendlyName(curve));
        var der = SelfSigned(ecdsa);
        var data = Signed(scheme);
        var signature = ecdsa.SignData(data, new HashAlgorithmName(hash), DSASignatureFormat.Rfc3279DerSequence);

        Assert.Equal((true, true), Verify13(der, scheme, data, signature));
        data[0] ^= 1;
        Assert.Equal((false, false), Verify13(der, scheme, data, signature));
    }

    [Theory]
    [InlineData(BcHashAlgorithm.sha1, SignatureAlgorithm.rsa, "SHA1")]
    [InlineData(BcHashAlgorithm.sha256, SignatureAlgorithm.rsa, "SHA256")]
    [InlineData(BcHashAlgorithm.sha512, SignatureAlgorithm.rsa, "SHA512")]
    [InlineData(BcHashAlgorithm.Intrinsic, SignatureAlgorithm.rsa_pss_rsae_sha256, "SHA256")]
    [InlineData(BcHashAlgorithm.Intrinsic, SignatureAlgorithm.rsa_pss_rsae_sha384, "SHA384")]
    public void Tls12_Rsa_ServerKeyExchangeHash_AcceptsWhatBouncyCastleAccepts(short hashAlgorithm, short signatureAlgorithm, string hash)
    {
        using var rsa = RSA.Create(2048);
        var der = SelfSigned(rsa);
        var name = new HashAlgorithmName(hash);
        var digest = CryptographicOperations.HashData(name, Signed(hashAlgorithm + signatureAlgorithm));
        var padding = signatureAlgorithm == SignatureAlgorithm.rsa ? RSASignaturePadding.Pkcs1 : RSASignaturePadding.Pss;
        var signed = new DigitallySigned(new SignatureAndHashAlgorithm(hashAlgorithm, signatureAlgorithm), rsa.SignHash(digest, name, padding));

        var verifier = Crypto.CreateCertificate(der).CreateVerifier(signatureAlgorithm);
        Assert.Null(verifier.GetStreamVerifier(signed));
        Assert.True(verifier.VerifyRawSignature(signed, digest));
        digest[0] ^= 1;
        Assert.False(verifier.VerifyRawSignature(signed, digest));
        if (signatureAlgorithm == SignatureAlgorithm.rsa)
        {
            // BouncyCastle's PKCS#1 verifier takes the same hash: the same verdict.
            Assert.False(new BcTlsCertificate(Crypto, der).CreateVerifier(signatureAlgorithm).VerifyRawSignature(signed, digest));
            digest[0] ^= 1;
            Assert.True(new BcTlsCertificate(Crypto, der).CreateVerifier(signatureAlgorithm).VerifyRawSignature(signed, digest));
        }
    }

    [Fact]
    public void Tls12_Ecdsa_ServerKeyExchangeHash_AcceptsWhatBouncyCastleAccepts()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = SelfSigned(ecdsa);
        var digest = SHA256.HashData(Signed(3));
        var signed = new DigitallySigned(new SignatureAndHashAlgorithm(BcHashAlgorithm.sha256, SignatureAlgorithm.ecdsa), ecdsa.SignHash(digest, DSASignatureFormat.Rfc3279DerSequence));

        Assert.True(Crypto.CreateCertificate(der).CreateVerifier(SignatureAlgorithm.ecdsa).VerifyRawSignature(signed, digest));
        Assert.True(new BcTlsCertificate(Crypto, der).CreateVerifier(SignatureAlgorithm.ecdsa).VerifyRawSignature(signed, digest));
        digest[5] ^= 1;
        Assert.False(Crypto.CreateCertificate(der).CreateVerifier(SignatureAlgorithm.ecdsa).VerifyRawSignature(signed, digest));
    }

    [Fact]
    public void Tls10_Md5Sha1WithoutAlgorithm_StaysWithBouncyCastle()
    {
        var identity = TlsTestCertificates.Interception.Issue("mx.example.org", ["mx.example.org"], TlsTestCertificates.Now, TlsTestCertificates.Now.AddDays(30));
        var md5sha1 = new byte[36];
        new Random(5).NextBytes(md5sha1);
        var signed = new DigitallySigned(null, new BcTlsRsaSigner(Crypto, (RsaKeyParameters)identity.PrivateKey).GenerateRawSignature(null, md5sha1));

        var verifier = Crypto.CreateCertificate(identity.ChainDer[0]).CreateVerifier(SignatureAlgorithm.rsa);
        Assert.True(verifier.VerifyRawSignature(signed, md5sha1));
        md5sha1[0] ^= 1;
        Assert.False(verifier.VerifyRawSignature(signed, md5sha1));
    }

    [Fact]
    public void PooledKeys_TwoCertificatesOfTheSameKey_AndManyChecksInParallel_AllRight()
    {
        using var rsa = RSA.Create(2048);
        var first = SelfSigned(rsa);
        var second = SelfSigned(rsa);
        Assert.NotEqual(first, second);

        Parallel.For(0, 64, i =>
        {
            var data = Signed(i);
            var signature = rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
            if (i % 3 == 0)
            {
                data[0] ^= 1;
            }

            Assert.Equal(i % 3 != 0, Verify13(i % 2 == 0 ? first : second, SignatureScheme.rsa_pss_rsae_sha256, data, signature).Framework);
        });
    }
}
