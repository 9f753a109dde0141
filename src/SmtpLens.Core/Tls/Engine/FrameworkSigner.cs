using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using BcHashAlgorithm = Org.BouncyCastle.Tls.HashAlgorithm;

namespace SmtpLens.Tls.Engine;

/// <summary>Signs handshakes (ServerKeyExchange, CertificateVerify) with the framework's RSA and ECDSA.</summary>
/// <remarks>
/// perf, one-message TLS sessions: BouncyCastle's managed private-key operation on the client leg was about a third
/// of the relay's CPU per session. BouncyCastle hashes what is signed and hands this signer the hash (no stream signer
/// is offered), so PKCS#1 v1.5 (TLS 1.2, deterministic), RSA-PSS (rsa_pss_rsae_*, TLS 1.2 and 1.3) and ECDSA all map
/// onto SignHash. TLS 1.0/1.1's MD5+SHA-1 RSA signature has no framework equivalent and stays with BouncyCastle.
/// </remarks>
internal sealed class FrameworkSigner(BcTlsCrypto crypto, TlsIdentity identity) : TlsSigner
{
    // The forged leaf identity is shared by every session: its key objects are lent out one caller at a time.
    public byte[] GenerateRawSignature(SignatureAndHashAlgorithm algorithm, byte[] hash)
    {
        try
        {
            if (identity.PrivateKey is ECPrivateKeyParameters)
            {
                return identity.WithSigningKey(key => ((ECDsa)key).SignHash(hash, DSASignatureFormat.Rfc3279DerSequence));
            }

            if (algorithm is null || identity.PrivateKey is not RsaPrivateCrtKeyParameters)
            {
                return new BcTlsRsaSigner(crypto, (RsaKeyParameters)identity.PrivateKey).GenerateRawSignature(algorithm, hash);
            }

            var (name, padding) = RsaScheme(algorithm);
            return identity.WithSigningKey(key => ((RSA)key).SignHash(hash, name, padding));
        }
        catch (CryptographicException e)
        {
            throw new TlsFatalAlert(AlertDescription.internal_error, e);
        }
    }

    // Returning null makes BouncyCastle hash the content itself and call GenerateRawSignature.
    public TlsStreamSigner? GetStreamSigner(SignatureAndHashAlgorithm algorithm) => null;

    private static (HashAlgorithmName Name, RSASignaturePadding Padding) RsaScheme(SignatureAndHashAlgorithm algorithm) =>
        FrameworkRsaScheme(algorithm) ?? throw new TlsFatalAlert(AlertDescription.internal_error, new CryptographicException($"no framework RSA signature for {algorithm}"));

    /// <summary>The framework's name for a TLS 1.2/1.3 RSA signature scheme (PKCS#1 or PSS rsae); null for any other.
    /// Shared with <see cref="FrameworkVerifyingCertificate"/>, so signing and verifying map schemes alike.</summary>
    internal static (HashAlgorithmName Name, RSASignaturePadding Padding)? FrameworkRsaScheme(SignatureAndHashAlgorithm algorithm) =>
        (algorithm.Hash, algorithm.Signature) switch
        {
            (BcHashAlgorithm.Intrinsic, SignatureAlgorithm.rsa_pss_rsae_sha256) => (HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
            (BcHashAlgorithm.Intrinsic, SignatureAlgorithm.rsa_pss_rsae_sha384) => (HashAlgorithmName.SHA384, RSASignaturePadding.Pss),
            (BcHashAlgorithm.Intrinsic, SignatureAlgorithm.rsa_pss_rsae_sha512) => (HashAlgorithmName.SHA512, RSASignaturePadding.Pss),
            (BcHashAlgorithm.sha1, SignatureAlgorithm.rsa) => (HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1),
            (BcHashAlgorithm.sha256, SignatureAlgorithm.rsa) => (HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            (BcHashAlgorithm.sha384, SignatureAlgorithm.rsa) => (HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1),
            (BcHashAlgorithm.sha512, SignatureAlgorithm.rsa) => (HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1),
            _ => null,
        };

    /// <summary>Credentials that sign with this identity under <paramref name="algorithm"/> (null below TLS 1.2).</summary>
    public static TlsCredentialedSigner Credentials(TlsContext context, BcTlsCrypto crypto, TlsIdentity identity, Certificate certificate, SignatureAndHashAlgorithm? algorithm) =>
        new DefaultTlsCredentialedSigner(new TlsCryptoParameters(context), new FrameworkSigner(crypto, identity), certificate, algorithm);
}
