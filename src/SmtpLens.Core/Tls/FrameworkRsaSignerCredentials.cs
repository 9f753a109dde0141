using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;
using BcCertificate = Org.BouncyCastle.Crypto.Tls.Certificate;
using BcHashAlgorithm = Org.BouncyCastle.Crypto.Tls.HashAlgorithm;

namespace SmtpLens.Tls;

/// <summary>Signs the TLS 1.2 handshake with the framework's RSA (OpenSSL) instead of BouncyCastle's.</summary>
/// <remarks>
/// perf, one-message TLS sessions: BouncyCastle's managed RSA private-key operation (the ServerKeyExchange
/// signature on the client leg) was about a third of the relay's CPU per session. For TLS 1.2 BouncyCastle signs
/// DigestInfo(hash) with PKCS#1 v1.5, which is deterministic, so <see cref="RSA.SignHash(byte[], HashAlgorithmName, RSASignaturePadding)"/>
/// gives the same bytes. Anything else (TLS 1.0/1.1's MD5+SHA-1 signature, other hashes) stays with BouncyCastle.
/// </remarks>
internal sealed class FrameworkRsaSignerCredentials(TlsContext context, TlsIdentity identity, SignatureAndHashAlgorithm? algorithm) : TlsSignerCredentials
{
    // The key converted once per identity (the forged leaf key is shared by every session). An RSA object is made
    // per signature: importing CRT parameters is cheap next to signing, and instances are not documented thread-safe.
    private static readonly ConditionalWeakTable<TlsIdentity, StrongBox<RSAParameters>> Keys = new();
    private readonly DefaultTlsSignerCredentials _fallback = new(context, identity.Chain, identity.PrivateKey, algorithm);

    public BcCertificate Certificate => identity.Chain;

    public SignatureAndHashAlgorithm? SignatureAndHashAlgorithm => algorithm;

    public byte[] GenerateCertificateSignature(byte[] hash)
    {
        if (algorithm is null || !TlsUtilities.IsTlsV12(context) || HashName(algorithm.Hash) is not { } name || identity.PrivateKey is not RsaPrivateCrtKeyParameters key)
        {
            return _fallback.GenerateCertificateSignature(hash);
        }

        try
        {
            using var rsa = RSA.Create(Keys.GetValue(identity, _ => new StrongBox<RSAParameters>(DotNetUtilities.ToRSAParameters(key))).Value);
            return rsa.SignHash(hash, name, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException e)
        {
            throw new TlsFatalAlert(AlertDescription.internal_error, e);
        }
    }

    private static HashAlgorithmName? HashName(byte hash) => hash switch
    {
        BcHashAlgorithm.sha1 => HashAlgorithmName.SHA1,
        BcHashAlgorithm.sha256 => HashAlgorithmName.SHA256,
        BcHashAlgorithm.sha384 => HashAlgorithmName.SHA384,
        BcHashAlgorithm.sha512 => HashAlgorithmName.SHA512,
        _ => null,
    };

    /// <summary>The credentials for an identity: framework signing when its key is RSA, BouncyCastle's otherwise.</summary>
    public static TlsSignerCredentials Create(TlsContext context, TlsIdentity identity, SignatureAndHashAlgorithm? algorithm) =>
        identity.PrivateKey is RsaPrivateCrtKeyParameters
            ? new FrameworkRsaSignerCredentials(context, identity, algorithm)
            : new DefaultTlsSignerCredentials(context, identity.Chain, identity.PrivateKey, algorithm);
}
