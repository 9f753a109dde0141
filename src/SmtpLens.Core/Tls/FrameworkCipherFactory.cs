using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Tls;

namespace SmtpLens.Tls;

/// <summary>BouncyCastle's cipher factory with AES-GCM record protection moved onto the framework.</summary>
/// <remarks>
/// AES-GCM carries nearly all modern traffic and is where BouncyCastle's managed code costs the most; CBC, RC4,
/// 3DES and ChaCha20 stay with the base factory (rare, or no framework equivalent with TLS's framing).
/// </remarks>
internal sealed class FrameworkCipherFactory : DefaultTlsCipherFactory
{
    /// <summary>Stateless, so every peer can share one.</summary>
    public static readonly FrameworkCipherFactory Instance = new();

    private FrameworkCipherFactory()
    {
    }

    public override TlsCipher CreateCipher(TlsContext context, int encryptionAlgorithm, int macAlgorithm) =>
        encryptionAlgorithm switch
        {
            // Where the platform has no AES-GCM (IsSupported false), BouncyCastle's managed one still works.
            EncryptionAlgorithm.AES_128_GCM when AesGcm.IsSupported => new FrameworkAesGcmCipher(context, 16),
            EncryptionAlgorithm.AES_256_GCM when AesGcm.IsSupported => new FrameworkAesGcmCipher(context, 32),
            _ => base.CreateCipher(context, encryptionAlgorithm, macAlgorithm),
        };
}
