using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Tls.Crypto.Impl;

namespace SmtpLens.Bench.CipherThroughput;

/// <summary>BouncyCastle's managed AES-GCM or ChaCha20-Poly1305 behind the same seam as FrameworkAeadCipher.</summary>
/// <remarks>BcTlsCrypto's own adapter (BcTlsAeadCipherImpl) is internal; this does what it does, so both
/// implementations are driven by identical record code and only the AEAD differs.</remarks>
internal sealed class ManagedAeadCipher(bool encrypt, bool chaCha) : TlsAeadCipherImpl
{
    private readonly IAeadCipher _cipher = chaCha ? new ChaCha20Poly1305() : new GcmBlockCipher(Aes());
    private KeyParameter? _key;

    // What BouncyCastle's (internal) AesUtilities.CreateEngine picks: its AES-NI engine where the CPU has it.
    private static IBlockCipher Aes() => AesEngine_X86.IsSupported ? new AesEngine_X86() : new AesEngine();

    public void SetKey(byte[] key, int keyOff, int keyLen) => _key = new KeyParameter(key, keyOff, keyLen);

    public void SetKey(ReadOnlySpan<byte> key) => _key = new KeyParameter(key);

    public void Init(byte[] nonce, int macSize, byte[] additionalData) =>
        _cipher.Init(encrypt, new AeadParameters(_key, macSize * 8, nonce, additionalData));

    public int GetOutputSize(int inputLength) => _cipher.GetOutputSize(inputLength);

    public int DoFinal(byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset)
    {
        var length = _cipher.ProcessBytes(input, inputOffset, inputLength, output, outputOffset);
        return length + _cipher.DoFinal(output, outputOffset + length);
    }

    public int DoFinal(byte[] additionalData, byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset)
    {
        _cipher.ProcessAadBytes(additionalData, 0, additionalData.Length);
        return DoFinal(input, inputOffset, inputLength, output, outputOffset);
    }

    public void Reset() => _cipher.Reset();
}
