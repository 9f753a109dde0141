using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl;

namespace SmtpLens.Tls.Engine;

/// <summary>AES-GCM or ChaCha20-Poly1305 record protection on the framework, under BouncyCastle's TlsAeadCipher.</summary>
/// <remarks>
/// BouncyCastle's managed AEADs are the relay's bottleneck (every byte is opened on one leg and sealed on the other);
/// the framework's use AES-NI/PCLMUL (or the platform's ChaCha20) through the platform library. BouncyCastle still
/// builds nonces, additional data and the TLS 1.3 inner plaintext for every version; this class only seals and opens.
/// One instance serves one direction of one session, driven under BouncyTlsStream's engine lock.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "BouncyCastle's record layer owns the cipher and never disposes it; the SafeHandle frees the native context when the session is collected.")]
internal sealed class FrameworkAeadCipher(bool encrypt, bool chaCha) : TlsAeadCipherImpl
{
    private const int TagLength = 16;
    private IDisposable? _aead;
    private byte[] _nonce = [];

    public static bool IsSupported(bool chaCha) => chaCha ? ChaCha20Poly1305.IsSupported : AesGcm.IsSupported;

    public void SetKey(byte[] key, int keyOff, int keyLen) => SetKey(key.AsSpan(keyOff, keyLen));

    public void SetKey(ReadOnlySpan<byte> key)
    {
        // TLS 1.3 key updates set a new key on the same instance.
        _aead?.Dispose();
        _aead = chaCha ? new ChaCha20Poly1305(key) : new AesGcm(key, TagLength);
    }

    public void Init(byte[] nonce, int macSize, byte[] additionalData)
    {
        if (macSize != TagLength || additionalData is { Length: > 0 })
        {
            // Every AES-GCM and ChaCha20 suite uses a full 16-byte tag, and BouncyCastle passes AAD to DoFinal.
            throw new TlsFatalAlert(AlertDescription.internal_error);
        }

        _nonce = nonce;
    }

    public int GetOutputSize(int inputLength) => encrypt ? inputLength + TagLength : Math.Max(0, inputLength - TagLength);

    public int DoFinal(byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset) =>
        DoFinal([], input, inputOffset, inputLength, output, outputOffset);

    public int DoFinal(byte[] additionalData, byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset)
    {
        try
        {
            if (encrypt)
            {
                // BouncyCastle seals in place; the framework allows input and output to be the same span.
                var plaintext = input.AsSpan(inputOffset, inputLength);
                var sealedText = output.AsSpan(outputOffset, inputLength);
                var tag = output.AsSpan(outputOffset + inputLength, TagLength);
                if (_aead is AesGcm gcm)
                {
                    gcm.Encrypt(_nonce, plaintext, sealedText, tag, additionalData);
                }
                else
                {
                    ((ChaCha20Poly1305)_aead!).Encrypt(_nonce, plaintext, sealedText, tag, additionalData);
                }

                return inputLength + TagLength;
            }

            var length = inputLength - TagLength;
            if (length < 0)
            {
                throw new TlsFatalAlert(AlertDescription.bad_record_mac);
            }

            var ciphertext = input.AsSpan(inputOffset, length);
            var received = input.AsSpan(inputOffset + length, TagLength);
            var opened = output.AsSpan(outputOffset, length);
            if (_aead is AesGcm open)
            {
                open.Decrypt(_nonce, ciphertext, received, opened, additionalData);
            }
            else
            {
                ((ChaCha20Poly1305)_aead!).Decrypt(_nonce, ciphertext, received, opened, additionalData);
            }

            return length;
        }
        catch (CryptographicException e)
        {
            // AuthenticationTagMismatchException included: a forged, corrupted, replayed or reordered record.
            throw new TlsFatalAlert(encrypt ? AlertDescription.internal_error : AlertDescription.bad_record_mac, e);
        }
    }

    public void Reset()
    {
    }
}
