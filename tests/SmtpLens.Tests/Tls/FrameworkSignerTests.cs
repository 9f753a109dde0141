using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using SmtpLens.Tls.Engine;
using BcHashAlgorithm = Org.BouncyCastle.Tls.HashAlgorithm;

namespace SmtpLens.Tests.Tls;

/// <summary>The framework handshake signer against BouncyCastle's own signers as the reference.</summary>
public sealed class FrameworkSignerTests
{
    private static readonly BcTlsCrypto Crypto = new(new SecureRandom());

    private static byte[] Digest(HashAlgorithmName name, int seed)
    {
        var data = new byte[200];
        new Random(seed).NextBytes(data);
        return CryptographicOperations.HashData(name, data);
    }

    [Theory]
    [InlineData(BcHashAlgorithm.sha1)]
    [InlineData(BcHashAlgorithm.sha256)]
    [InlineData(BcHashAlgorithm.sha384)]
    [InlineData(BcHashAlgorithm.sha512)]
    public void Pkcs1Signature_IsBouncyCastlesByteForByte(short hash)
    {
        var identity = TlsTestCertificates.Interception.Issue("mx.example.org", ["mx.example.org"], TlsTestCertificates.Now, TlsTestCertificates.Now.AddDays(30));
        var algorithm = new SignatureAndHashAlgorithm(hash, SignatureAlgorithm.rsa);
        // SHA-1 included: TLS 1.2 peers may still ask for it, and the signer must match BouncyCastle there too.
        var digest = Digest(
            hash switch
            {
                BcHashAlgorithm.sha1 => HashAlgorithmName.SHA1,
                BcHashAlgorithm.sha256 => HashAlgorithmName.SHA256,
                BcHashAlgorithm.sha384 => HashAlgorithmName.SHA384,
                _ => HashAlgorithmName.SHA512,
            },
            hash);

        var reference = new BcTlsRsaSigner(Crypto, (RsaKeyParameters)identity.PrivateKey).GenerateRawSignature(algorithm, digest);

        // PKCS#1 v1.5 is deterministic: the same key and digest give the same bytes, twice over.
        var signer = new FrameworkSigner(Crypto, identity);
        Assert.Equal(reference, signer.GenerateRawSignature(algorithm, digest));
        Assert.Equal(reference, signer.GenerateRawSignature(algorithm, digest));
    }

    [Fact]
    public void Tls10Signature_WithoutAlgorithm_IsBouncyCastles()
    {
        var identity = TlsTestCertificates.Interception.Issue("mx.example.org", ["mx.example.org"], TlsTestCertificates.Now, TlsTestCertificates.Now.AddDays(30));
        var md5sha1 = new byte[36];
        new Random(3).NextBytes(md5sha1);
        var reference = new BcTlsRsaSigner(Crypto, (RsaKeyParameters)identity.PrivateKey).GenerateRawSignature(null, md5sha1);
        Assert.Equal(reference, new FrameworkSigner(Crypto, identity).GenerateRawSignature(null!, md5sha1));
    }

    [Theory]
    [InlineData(SignatureAlgorithm.rsa_pss_rsae_sha256, "SHA256")]
    [InlineData(SignatureAlgorithm.rsa_pss_rsae_sha384, "SHA384")]
    [InlineData(SignatureAlgorithm.rsa_pss_rsae_sha512, "SHA512")]
    public void PssSignature_VerifiesWithTheCertificateKey_AndTamperingFails(short scheme, string hash)
    {
        var identity = TlsTestCertificates.Interception.Issue("mx.example.org", ["mx.example.org"], TlsTestCertificates.Now, TlsTestCertificates.Now.AddDays(30));
        var name = new HashAlgorithmName(hash);
        var digest = Digest(name, scheme);
        var signature = new FrameworkSigner(Crypto, identity).GenerateRawSignature(new SignatureAndHashAlgorithm(BcHashAlgorithm.Intrinsic, scheme), digest);

        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(identity.ChainDer[0]);
        using var rsa = System.Security.Cryptography.X509Certificates.RSACertificateExtensions.GetRSAPublicKey(certificate)!;
        Assert.True(rsa.VerifyHash(digest, signature, name, RSASignaturePadding.Pss));
        digest[0] ^= 1;
        Assert.False(rsa.VerifyHash(digest, signature, name, RSASignaturePadding.Pss));
    }
}
