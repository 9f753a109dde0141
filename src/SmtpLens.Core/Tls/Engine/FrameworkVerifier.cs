using System.Collections.Concurrent;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace SmtpLens.Tls.Engine;

/// <summary>A peer's certificate whose handshake signatures (TLS 1.2 ServerKeyExchange, CertificateVerify of either
/// version) are checked with the framework's RSA and ECDSA; everything else is BouncyCastle's.</summary>
/// <remarks>perf, one-message TLS 1.3 sessions: BouncyCastle's managed RSA-PSS check of the upstream's CertificateVerify
/// (its BigInteger public-key operation, and the modulus checks of parsing the key) was about 5 % of the relay's CPU per
/// session. The key is read from the certificate's SubjectPublicKeyInfo as BouncyCastle reads it, and imported once per
/// key; the signature rules are the same (RSA-PSS with a salt as long as the hash, PKCS#1 v1.5 with a DigestInfo, ECDSA
/// as a DER sequence).
/// TLS 1.0/1.1's MD5+SHA-1 RSA signature and other schemes stay with BouncyCastle.</remarks>
internal sealed class FrameworkVerifyingCertificate(BcTlsCrypto crypto, byte[] encoding) : BcTlsCertificate(crypto, encoding)
{
    private bool IsRsa => SubjectPublicKeyInfo.Algorithm.Algorithm.Equals(PkcsObjectIdentifiers.RsaEncryption);

    private bool IsEc => SubjectPublicKeyInfo.Algorithm.Algorithm.Equals(X9ObjectIdentifiers.IdECPublicKey);

    public override TlsVerifier CreateVerifier(short signatureAlgorithm)
    {
        switch (signatureAlgorithm)
        {
            case SignatureAlgorithm.rsa when IsRsa:
                ValidateKeyUsage(KeyUsage.DigitalSignature);
                ValidateRsa_Pkcs1();
                return new RawVerifier(this, () => base.CreateVerifier(signatureAlgorithm));
            case SignatureAlgorithm.rsa_pss_rsae_sha256 or SignatureAlgorithm.rsa_pss_rsae_sha384 or SignatureAlgorithm.rsa_pss_rsae_sha512 when IsRsa:
                ValidateKeyUsage(KeyUsage.DigitalSignature);
                ValidateRsa_Pss_Rsae();
                return new RawVerifier(this, () => base.CreateVerifier(signatureAlgorithm));
            case SignatureAlgorithm.ecdsa when IsEc:
                ValidateKeyUsage(KeyUsage.DigitalSignature);
                return new RawVerifier(this, () => base.CreateVerifier(signatureAlgorithm));
            default:
                return base.CreateVerifier(signatureAlgorithm);
        }
    }

    public override Tls13Verifier CreateVerifier(int signatureScheme)
    {
        switch (signatureScheme)
        {
            case SignatureScheme.rsa_pss_rsae_sha256 or SignatureScheme.rsa_pss_rsae_sha384 or SignatureScheme.rsa_pss_rsae_sha512 when IsRsa:
                ValidateKeyUsage(KeyUsage.DigitalSignature);
                ValidateRsa_Pss_Rsae();
                return new StreamVerifier(this, HashOf(SignatureScheme.GetCryptoHashAlgorithm(signatureScheme)), RSASignaturePadding.Pss);
            case SignatureScheme.ecdsa_secp256r1_sha256 or SignatureScheme.ecdsa_secp384r1_sha384 or SignatureScheme.ecdsa_secp521r1_sha512 when IsEc:
                ValidateKeyUsage(KeyUsage.DigitalSignature);
                return new StreamVerifier(this, HashOf(SignatureScheme.GetCryptoHashAlgorithm(signatureScheme)), null);
            default:
                return base.CreateVerifier(signatureScheme);
        }
    }

    private static HashAlgorithmName HashOf(int cryptoHashAlgorithm) => cryptoHashAlgorithm switch
    {
        CryptoHashAlgorithm.sha1 => HashAlgorithmName.SHA1,
        CryptoHashAlgorithm.sha256 => HashAlgorithmName.SHA256,
        CryptoHashAlgorithm.sha384 => HashAlgorithmName.SHA384,
        CryptoHashAlgorithm.sha512 => HashAlgorithmName.SHA512,
        _ => throw new TlsFatalAlert(AlertDescription.internal_error),
    };

    private const int KeyCapacity = 256;

    // perf: importing a public key into OpenSSL (its decoder lookup) cost more than the signature check itself, and a
    // relay meets the same few peer keys in every session. One pool of key objects per SubjectPublicKeyInfo, each object
    // lent to one caller at a time. Bounded: full, it starts over (dropped objects are left to the GC).
    private static readonly ConcurrentDictionary<string, ConcurrentBag<AsymmetricAlgorithm>> Keys = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="use"/> with this certificate's key as a framework object.</summary>
    private bool WithKey(Func<AsymmetricAlgorithm, bool> use)
    {
        var id = System.Convert.ToHexString(SHA256.HashData(SubjectPublicKeyInfo.GetEncoded()));
        if (!Keys.TryGetValue(id, out var pool))
        {
            if (Keys.Count >= KeyCapacity)
            {
                Keys.Clear();
            }

            pool = Keys.GetOrAdd(id, _ => []);
        }

        if (!pool.TryTake(out var key))
        {
            key = FrameworkKey();
        }

        try
        {
            return use(key);
        }
        finally
        {
            pool.Add(key);
        }
    }

    /// <summary>The certificate's key as a framework object: RSA from its modulus and exponent, EC from its named curve
    /// and point.</summary>
    private AsymmetricAlgorithm FrameworkKey()
    {
        if (IsRsa)
        {
            var key = RsaPublicKeyStructure.GetInstance(SubjectPublicKeyInfo.ParsePublicKey());
            return RSA.Create(new RSAParameters { Modulus = key.Modulus.ToByteArrayUnsigned(), Exponent = key.PublicExponent.ToByteArrayUnsigned() });
        }

        // An uncompressed point (04 || X || Y) as every TLS stack sends; anything else is read by BouncyCastle first.
        var point = SubjectPublicKeyInfo.PublicKey.GetOctets();
        byte[] x, y;
        if (point.Length > 1 && point[0] == 4 && point.Length % 2 == 1)
        {
            var size = (point.Length - 1) / 2;
            (x, y) = (point[1..(1 + size)], point[(1 + size)..]);
        }
        else
        {
            var ec = GetPubKeyEC();
            var q = ec.Q.Normalize();
            var size = (ec.Parameters.Curve.FieldSize + 7) / 8;
            (x, y) = (PadLeft(q.AffineXCoord.ToBigInteger().ToByteArrayUnsigned(), size), PadLeft(q.AffineYCoord.ToBigInteger().ToByteArrayUnsigned(), size));
        }

        var curve = X962Parameters.GetInstance(SubjectPublicKeyInfo.Algorithm.Parameters) is { IsNamedCurve: true } named
            ? ECCurve.CreateFromValue(((Org.BouncyCastle.Asn1.DerObjectIdentifier)named.Parameters).Id)
            : throw new TlsFatalAlert(AlertDescription.unsupported_certificate);
        return ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
    }

    private static byte[] PadLeft(byte[] value, int size)
    {
        if (value.Length >= size)
        {
            return value;
        }

        var padded = new byte[size];
        value.CopyTo(padded, size - value.Length);
        return padded;
    }

    private static bool Verify(AsymmetricAlgorithm key, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> signature, HashAlgorithmName name, RSASignaturePadding? padding)
    {
        try
        {
            return key is RSA rsa
                ? rsa.VerifyHash(hash, signature, name, padding!)
                : ((ECDsa)key).VerifyHash(hash, signature, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>TLS 1.2: BouncyCastle hashes what was signed (no stream verifier) and hands over the hash.</summary>
    private sealed class RawVerifier(FrameworkVerifyingCertificate certificate, Func<TlsVerifier> bouncy) : TlsVerifier
    {
        public TlsStreamVerifier? GetStreamVerifier(DigitallySigned digitallySigned) => null;

        public bool VerifyRawSignature(DigitallySigned digitallySigned, byte[] hash)
        {
            if (digitallySigned.Algorithm is not { } algorithm)
            {
                // TLS 1.0/1.1: MD5+SHA-1 without a DigestInfo has no framework equivalent.
                return bouncy().VerifyRawSignature(digitallySigned, hash);
            }

            (HashAlgorithmName Name, RSASignaturePadding? Padding)? scheme = algorithm.Signature == SignatureAlgorithm.ecdsa
                ? (default(HashAlgorithmName), null)
                : FrameworkSigner.FrameworkRsaScheme(algorithm) is var (rsaName, rsaPadding) ? (rsaName, rsaPadding) : null;
            if (scheme is not var (name, padding))
            {
                return bouncy().VerifyRawSignature(digitallySigned, hash);
            }

            return certificate.WithKey(key => Verify(key, hash, digitallySigned.Signature, name, padding));
        }
    }

    /// <summary>TLS 1.3: BouncyCastle writes what was signed (the padded context string and transcript hash) into
    /// <see cref="Stream"/>.</summary>
    private sealed class StreamVerifier(FrameworkVerifyingCertificate certificate, HashAlgorithmName name, RSASignaturePadding? padding) : Tls13Verifier, IDisposable
    {
        private readonly MemoryStream _signed = new(capacity: 160);

        public Stream Stream => _signed;

        public bool VerifySignature(byte[] signature)
        {
            // BouncyCastle closes the stream before it asks; a closed MemoryStream still gives its bytes.
            var hash = CryptographicOperations.HashData(name, _signed.ToArray());
            Dispose();
            return certificate.WithKey(key => Verify(key, hash, signature, name, padding));
        }

        public void Dispose() => _signed.Dispose();
    }
}
