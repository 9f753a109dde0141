using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Tls;

namespace SmtpLens.Tls;

/// <summary>TLS 1.2 AES-GCM record protection (RFC 5288) on the framework's <see cref="AesGcm"/>.</summary>
/// <remarks>
/// BouncyCastle's managed GCM is the relay's bottleneck (every byte is opened on one leg and sealed on the other);
/// the framework's uses AES-NI/PCLMUL through the platform library. The wire format is exactly that of BouncyCastle's
/// TlsAeadCipher in its RFC 5288 nonce mode: BouncyCastle still negotiates and derives the key block, this class only
/// seals and opens records. BouncyCastle drives one protocol from one thread at a time (BouncyTlsStream holds the
/// engine lock), so the two AesGcm instances need no locking of their own.
/// Full-size records (the bulk of a large message) reuse one output array per direction: BouncyCastle's record
/// layer copies what these methods return (into the record it frames, or into its application-data queue) before
/// it calls again, and keeps no reference. Other sizes get a fresh array of exactly their length.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "BouncyCastle's record layer owns the cipher and never disposes it; AesGcm's SafeHandle frees the native context when the session is collected.")]
internal sealed class FrameworkAesGcmCipher : TlsCipher
{
    /// <summary>The implicit part of the nonce (the "salt"), from the key block.</summary>
    private const int FixedIvLength = 4;

    /// <summary>nonce_explicit, carried in front of every record's ciphertext.</summary>
    private const int RecordIvLength = 8;

    private const int TagLength = 16;
    private const int NonceLength = FixedIvLength + RecordIvLength;
    private const int AdditionalDataLength = 13;
    private const int FullPlaintext = 1 << 14;

    private readonly TlsContext _context;
    private readonly AesGcm _encrypt;
    private readonly AesGcm _decrypt;
    private readonly byte[] _encryptSalt;
    private readonly byte[] _decryptSalt;
    private byte[]? _fullSealed;
    private byte[]? _fullOpened;

    /// <param name="keySize">16 for AES-128-GCM, 32 for AES-256-GCM.</param>
    public FrameworkAesGcmCipher(TlsContext context, int keySize)
    {
        // GCM suites exist only from TLS 1.2 on; BouncyCastle refuses the same way.
        if (!TlsUtilities.IsTlsV12(context) || keySize is not (16 or 32))
        {
            throw new TlsFatalAlert(AlertDescription.internal_error);
        }

        _context = context;

        var keyBlock = KeyBlock(context, (2 * keySize) + (2 * FixedIvLength));
        try
        {
            var block = keyBlock.AsSpan();
            var clientKey = block[..keySize];
            var serverKey = block.Slice(keySize, keySize);
            var clientSalt = block.Slice(2 * keySize, FixedIvLength).ToArray();
            var serverSalt = block.Slice((2 * keySize) + FixedIvLength, FixedIvLength).ToArray();

            // A server seals with the server_write keys and opens with the client_write ones; a client the reverse.
            var isServer = context.IsServer;
            _encrypt = new AesGcm(isServer ? serverKey : clientKey, TagLength);
            _decrypt = new AesGcm(isServer ? clientKey : serverKey, TagLength);
            _encryptSalt = isServer ? serverSalt : clientSalt;
            _decryptSalt = isServer ? clientSalt : serverSalt;
        }
        finally
        {
            // AesGcm keeps its own copy of the keys; ours need not outlive the constructor.
            CryptographicOperations.ZeroMemory(keyBlock);
        }
    }

    /// <summary>key_block = client_write_key | server_write_key | client_write_IV | server_write_IV (RFC 5246 6.3).</summary>
    /// <remarks>
    /// TlsUtilities.CalculateKeyBlock is internal in BouncyCastle 1.8.10; for TLS (not SSL 3) it is exactly this PRF call,
    /// and GCM never runs over SSL 3. The tests hold the result against BouncyCastle's own TlsAeadCipher.
    /// </remarks>
    private static byte[] KeyBlock(TlsContext context, int size)
    {
        var parameters = context.SecurityParameters;
        var seed = new byte[parameters.ServerRandom.Length + parameters.ClientRandom.Length];
        parameters.ServerRandom.CopyTo(seed, 0);
        parameters.ClientRandom.CopyTo(seed, parameters.ServerRandom.Length);
        return TlsUtilities.PRF(context, parameters.MasterSecret, ExporterLabel.key_expansion, seed, size);
    }

    public int GetPlaintextLimit(int ciphertextLimit) => ciphertextLimit - TagLength - RecordIvLength;

    public byte[] EncodePlaintext(long seqNo, byte type, byte[] plaintext, int offset, int len)
    {
        var output = len == FullPlaintext
            ? _fullSealed ??= new byte[RecordIvLength + FullPlaintext + TagLength]
            : new byte[RecordIvLength + len + TagLength];

        // RFC 5288 lets nonce_explicit be the sequence number, which is what BouncyCastle sends: unique per key
        // without an RNG call per record, and byte-identical output to BouncyCastle's for the same keys.
        BinaryPrimitives.WriteInt64BigEndian(output, seqNo);
        Span<byte> nonce = stackalloc byte[NonceLength];
        _encryptSalt.CopyTo(nonce);
        output.AsSpan(0, RecordIvLength).CopyTo(nonce[FixedIvLength..]);

        Span<byte> additionalData = stackalloc byte[AdditionalDataLength];
        WriteAdditionalData(additionalData, seqNo, type, len);

        try
        {
            _encrypt.Encrypt(nonce, plaintext.AsSpan(offset, len), output.AsSpan(RecordIvLength, len), output.AsSpan(RecordIvLength + len, TagLength), additionalData);
        }
        catch (CryptographicException e)
        {
            throw new TlsFatalAlert(AlertDescription.internal_error, e);
        }

        return output;
    }

    public byte[] DecodeCiphertext(long seqNo, byte type, byte[] ciphertext, int offset, int len)
    {
        // Too short to hold nonce_explicit and a tag: a malformed record, as BouncyCastle reports it.
        var plaintextLength = GetPlaintextLimit(len);
        if (plaintextLength < 0)
        {
            throw new TlsFatalAlert(AlertDescription.decode_error);
        }

        var record = ciphertext.AsSpan(offset, len);
        Span<byte> nonce = stackalloc byte[NonceLength];
        _decryptSalt.CopyTo(nonce);
        record[..RecordIvLength].CopyTo(nonce[FixedIvLength..]);

        Span<byte> additionalData = stackalloc byte[AdditionalDataLength];
        WriteAdditionalData(additionalData, seqNo, type, plaintextLength);

        var output = plaintextLength == FullPlaintext ? _fullOpened ??= new byte[FullPlaintext] : new byte[plaintextLength];
        try
        {
            _decrypt.Decrypt(nonce, record.Slice(RecordIvLength, plaintextLength), record.Slice(RecordIvLength + plaintextLength, TagLength), output, additionalData);
        }
        catch (CryptographicException e)
        {
            // AuthenticationTagMismatchException included: a forged, corrupted, replayed or reordered record.
            throw new TlsFatalAlert(AlertDescription.bad_record_mac, e);
        }

        return output;
    }

    /// <summary>additional_data = seq_num(8) | type(1) | version(2) | length(2) (RFC 5246 6.2.3.3).</summary>
    private void WriteAdditionalData(Span<byte> destination, long seqNo, byte type, int plaintextLength)
    {
        // Read per record, as BouncyCastle does; the negotiated version does not change once keys are in use.
        var version = _context.ServerVersion;
        BinaryPrimitives.WriteInt64BigEndian(destination, seqNo);
        destination[8] = type;
        destination[9] = (byte)version.MajorVersion;
        destination[10] = (byte)version.MinorVersion;
        BinaryPrimitives.WriteUInt16BigEndian(destination[11..], (ushort)plaintextLength);
    }
}
