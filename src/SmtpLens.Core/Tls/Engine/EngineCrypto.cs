using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace SmtpLens.Tls.Engine;

/// <summary>BouncyCastle's crypto with the bulk record protection on the framework, RC4 for --tls-legacy, and a
/// hook that sees each record cipher as it is created (where TLS 1.3's handshake traffic secrets are live).</summary>
/// <remarks>One instance per TLS peer: the hook belongs to one leg of one session.</remarks>
internal sealed class EngineCrypto(SecureRandom random) : BcTlsCrypto(random)
{
    /// <summary>Runs after BouncyCastle creates a record cipher, with the security parameters it was keyed from.</summary>
    public Action<SecurityParameters>? CipherCreated { get; set; }

    public override TlsCipher CreateCipher(TlsCryptoParameters cryptoParams, int encryptionAlgorithm, int macAlgorithm)
    {
        var cipher = encryptionAlgorithm == EncryptionAlgorithm.RC4_128
            ? new LegacyRc4Cipher(cryptoParams, CreateLegacyMac(cryptoParams, macAlgorithm), CreateLegacyMac(cryptoParams, macAlgorithm))
            : base.CreateCipher(cryptoParams, encryptionAlgorithm, macAlgorithm);
        CipherCreated?.Invoke(cryptoParams.SecurityParameters);
        return cipher;
    }

    // Peer certificates check handshake signatures with the framework (see FrameworkVerifyingCertificate).
    public override TlsCertificate CreateCertificate(short type, byte[] encoding) =>
        type == CertificateType.X509 ? new FrameworkVerifyingCertificate(this, encoding) : base.CreateCertificate(type, encoding);

    public override bool HasEncryptionAlgorithm(int encryptionAlgorithm) =>
        encryptionAlgorithm == EncryptionAlgorithm.RC4_128 || base.HasEncryptionAlgorithm(encryptionAlgorithm);

    private TlsHmac CreateLegacyMac(TlsCryptoParameters cryptoParams, int macAlgorithm) =>
        TlsImplUtilities.IsSsl(cryptoParams) ? throw new TlsFatalAlert(AlertDescription.internal_error) : CreateHmac(macAlgorithm);

    protected override TlsAeadCipher CreateCipher_Aes_Gcm(TlsCryptoParameters cryptoParams, int cipherKeySize, int macSize) =>
        FrameworkAeadCipher.IsSupported(chaCha: false)
            ? new TlsAeadCipher(cryptoParams, new FrameworkAeadCipher(true, false), new FrameworkAeadCipher(false, false), cipherKeySize, macSize, TlsAeadCipher.AEAD_GCM)
            : base.CreateCipher_Aes_Gcm(cryptoParams, cipherKeySize, macSize);

    protected override TlsCipher CreateChaCha20Poly1305(TlsCryptoParameters cryptoParams) =>
        FrameworkAeadCipher.IsSupported(chaCha: true)
            ? new TlsAeadCipher(cryptoParams, new FrameworkAeadCipher(true, true), new FrameworkAeadCipher(false, true), 32, 16, TlsAeadCipher.AEAD_CHACHA20_POLY1305)
            : base.CreateChaCha20Poly1305(cryptoParams);
}
