using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Tls;
using SmtpLens.Tls;
using BcHashAlgorithm = Org.BouncyCastle.Crypto.Tls.HashAlgorithm;

namespace SmtpLens.Tests.Tls;

/// <summary>The framework RSA handshake signature against BouncyCastle's own signer as the reference.</summary>
public sealed class FrameworkRsaSignerCredentialsTests
{
    [Theory]
    [InlineData(BcHashAlgorithm.sha1)]
    [InlineData(BcHashAlgorithm.sha256)]
    [InlineData(BcHashAlgorithm.sha384)]
    [InlineData(BcHashAlgorithm.sha512)]
    public void Tls12Signature_IsBouncyCastlesByteForByte(byte hash)
    {
        var identity = TlsTestCertificates.Interception.Issue("mx.example.org", ["mx.example.org"], TlsTestCertificates.Now, TlsTestCertificates.Now.AddDays(30));
        var (_, server) = KeyedTlsContext.Pair(new Random(7), PrfAlgorithm.tls_prf_sha256);
        var algorithm = new SignatureAndHashAlgorithm(hash, SignatureAlgorithm.rsa);
        var data = new byte[200];
        new Random(hash).NextBytes(data);
        // SHA-1 included: TLS 1.2 peers may still ask for it, and the signer must match BouncyCastle there too.
        var digest = CryptographicOperations.HashData(
            hash switch
            {
                BcHashAlgorithm.sha1 => HashAlgorithmName.SHA1,
                BcHashAlgorithm.sha256 => HashAlgorithmName.SHA256,
                BcHashAlgorithm.sha384 => HashAlgorithmName.SHA384,
                _ => HashAlgorithmName.SHA512,
            },
            data);

        var credentials = FrameworkRsaSignerCredentials.Create(server, identity, algorithm);
        var reference = new DefaultTlsSignerCredentials(server, identity.Chain, identity.PrivateKey, algorithm);

        Assert.IsType<FrameworkRsaSignerCredentials>(credentials);
        Assert.Same(identity.Chain, credentials.Certificate);
        Assert.Equal(algorithm, credentials.SignatureAndHashAlgorithm);
        // PKCS#1 v1.5 is deterministic: the same key and digest give the same bytes, twice over.
        Assert.Equal(reference.GenerateCertificateSignature(digest), credentials.GenerateCertificateSignature(digest));
        Assert.Equal(reference.GenerateCertificateSignature(digest), credentials.GenerateCertificateSignature(digest));
    }

    [Fact]
    public void Tls12WithoutSignatureAlgorithm_IsRefusedLikeBouncyCastle()
    {
        var identity = TlsTestCertificates.Interception.Issue("mx.example.org", ["mx.example.org"], TlsTestCertificates.Now, TlsTestCertificates.Now.AddDays(30));
        var (_, server) = KeyedTlsContext.Pair(new Random(8), PrfAlgorithm.tls_prf_sha256);

        Assert.Throws<ArgumentException>(() => new DefaultTlsSignerCredentials(server, identity.Chain, identity.PrivateKey, null));
        Assert.Throws<ArgumentException>(() => FrameworkRsaSignerCredentials.Create(server, identity, null));
    }
}
