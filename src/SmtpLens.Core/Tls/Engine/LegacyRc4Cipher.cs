using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl;

namespace SmtpLens.Tls.Engine;

/// <summary>RC4_128 record protection (RFC 5246 6.2.3.1: MAC-then-encrypt, stream cipher) for --tls-legacy.</summary>
/// <remarks>
/// BouncyCastle 2.x still knows the RC4 suites but its crypto refuses to build their cipher. SmtpLens keeps them only
/// to reproduce old appliances (seed-002: TLS 1.0 + RC4), so this is the whole of it: RC4Engine per direction and the
/// suite's HMAC from BouncyCastle. TLS 1.0-1.2 only; the key block has no IVs for a stream cipher.
/// </remarks>
internal sealed class LegacyRc4Cipher : TlsCipher
{
    private const int KeyLength = 16;
    private readonly RC4Engine _encrypt = new();
    private readonly RC4Engine _decrypt = new();
    private readonly TlsSuiteHmac _writeMac;
    private readonly TlsSuiteHmac _readMac;

    public LegacyRc4Cipher(TlsCryptoParameters parameters, TlsHmac clientMac, TlsHmac serverMac)
    {
        if (TlsImplUtilities.IsTlsV13(parameters))
        {
            throw new TlsFatalAlert(AlertDescription.internal_error);
        }

        // key_block = client_write_MAC_key | server_write_MAC_key | client_write_key | server_write_key
        var macLength = clientMac.MacLength;
        var block = TlsImplUtilities.CalculateKeyBlock(parameters, (2 * macLength) + (2 * KeyLength));
        try
        {
            clientMac.SetKey(block, 0, macLength);
            serverMac.SetKey(block, macLength, macLength);
            var clientKey = new KeyParameter(block, 2 * macLength, KeyLength);
            var serverKey = new KeyParameter(block, (2 * macLength) + KeyLength, KeyLength);
            var isServer = parameters.IsServer;
            _encrypt.Init(true, isServer ? serverKey : clientKey);
            _decrypt.Init(false, isServer ? clientKey : serverKey);
            _writeMac = new TlsSuiteHmac(parameters, isServer ? serverMac : clientMac);
            _readMac = new TlsSuiteHmac(parameters, isServer ? clientMac : serverMac);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(block);
        }
    }

    public bool UsesOpaqueRecordType => false;

    public int GetCiphertextDecodeLimit(int plaintextLimit) => plaintextLimit + _readMac.Size;

    public int GetCiphertextEncodeLimit(int plaintextLength, int plaintextLimit) => Math.Min(plaintextLength, plaintextLimit) + _writeMac.Size;

    public int GetPlaintextLimit(int ciphertextLimit) => ciphertextLimit - _writeMac.Size;

    public TlsEncodeResult EncodePlaintext(long seqNo, short contentType, ProtocolVersion recordVersion, int headerAllocation, byte[] plaintext, int offset, int len) =>
        EncodePlaintext(seqNo, contentType, recordVersion, headerAllocation, plaintext.AsSpan(offset, len));

    public TlsEncodeResult EncodePlaintext(long seqNo, short contentType, ProtocolVersion recordVersion, int headerAllocation, ReadOnlySpan<byte> plaintext)
    {
        var mac = _writeMac.CalculateMac(seqNo, contentType, plaintext);
        var output = new byte[headerAllocation + plaintext.Length + mac.Length];
        plaintext.CopyTo(output.AsSpan(headerAllocation));
        mac.CopyTo(output.AsSpan(headerAllocation + plaintext.Length));
        _encrypt.ProcessBytes(output, headerAllocation, plaintext.Length + mac.Length, output, headerAllocation);
        return new TlsEncodeResult(output, 0, output.Length, contentType);
    }

    public TlsDecodeResult DecodeCiphertext(long seqNo, short recordType, ProtocolVersion recordVersion, byte[] ciphertext, int offset, int len)
    {
        var macSize = _readMac.Size;
        if (len < macSize)
        {
            throw new TlsFatalAlert(AlertDescription.decode_error);
        }

        var plain = new byte[len];
        _decrypt.ProcessBytes(ciphertext, offset, len, plain, 0);
        var length = len - macSize;
        var expected = _readMac.CalculateMac(seqNo, recordType, plain.AsSpan(0, length));
        if (!CryptographicOperations.FixedTimeEquals(expected, plain.AsSpan(length, macSize)))
        {
            throw new TlsFatalAlert(AlertDescription.bad_record_mac);
        }

        return new TlsDecodeResult(plain, 0, length, recordType);
    }

    // Key updates exist only in TLS 1.3.
    public void RekeyDecoder() => throw new TlsFatalAlert(AlertDescription.internal_error);

    public void RekeyEncoder() => throw new TlsFatalAlert(AlertDescription.internal_error);
}
