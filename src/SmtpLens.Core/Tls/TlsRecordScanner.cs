using System.Buffers;
using System.Buffers.Binary;

namespace SmtpLens.Tls;

/// <summary>TLS content types (RFC 8446 5.1).</summary>
internal enum TlsContentType : byte
{
    ChangeCipherSpec = 20,
    Alert = 21,
    Handshake = 22,
    ApplicationData = 23,
    Heartbeat = 24,
}

/// <summary>A complete handshake message, reassembled from however many records carried it.</summary>
internal sealed record HandshakeMessage(byte Type, byte[] Body, int RecordVersion);

/// <summary>An alert record seen in the clear (before encryption starts, or in passthrough).</summary>
internal sealed record TlsAlert(byte Level, byte Description)
{
    public string LevelName => Level == 2 ? "fatal" : "warning";

    public override string ToString() => $"{LevelName} {TlsNames.Alert(Description)}({Description})";
}

internal enum RecordScanStatus
{
    NeedMore,
    Progress,

    /// <summary>The bytes are not TLS records (plain SMTP, garbage, SSLv2).</summary>
    NotTls,

    /// <summary>A record or handshake message larger than TLS allows.</summary>
    Oversized,
}

/// <summary>Walks TLS records over any split of the byte stream and reassembles handshake messages.</summary>
/// <remarks>Pure: it is handed buffers and reports how much of each it consumed. It never trusts one read
/// to hold a record, nor one record to hold a message (a ClientHello with large key shares spans several).</remarks>
internal sealed class TlsRecordScanner
{
    /// <summary>RFC 8446 5.2: ciphertext may exceed 2^14 by up to 256 bytes; TLS 1.2 allows 2048.</summary>
    public const int MaxRecordLength = (1 << 14) + 2048;

    /// <summary>No sane handshake message is this large; certificate chains are the biggest, well below.</summary>
    public const int MaxHandshakeMessage = 256 * 1024;

    private readonly ArrayBufferWriter<byte> _handshake = new();

    public List<HandshakeMessage> Messages { get; } = [];

    public List<TlsAlert> Alerts { get; } = [];

    /// <summary>Set once a ChangeCipherSpec or application data record passed: later records are encrypted.</summary>
    public bool EncryptionStarted { get; private set; }

    public long RecordsSeen { get; private set; }

    public string? Problem { get; private set; }

    /// <summary>Consumes whole records from the front of <paramref name="buffer"/>.</summary>
    public RecordScanStatus Scan(ref ReadOnlySequence<byte> buffer)
    {
        var progressed = false;
        Span<byte> header = stackalloc byte[5];
        while (buffer.Length >= 5)
        {
            buffer.Slice(0, 5).CopyTo(header);
            var type = header[0];
            var version = BinaryPrimitives.ReadUInt16BigEndian(header[1..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(header[3..]);
            if (type is < 20 or > 24 || (version >> 8) != 3)
            {
                Problem = IsSslV2ClientHello(buffer) ? "an SSLv2-format ClientHello (not supported)" : $"not a TLS record (first bytes {Convert.ToHexString(header)})";
                return RecordScanStatus.NotTls;
            }

            if (length > MaxRecordLength)
            {
                Problem = $"TLS record of {length} bytes exceeds the {MaxRecordLength}-byte maximum";
                return RecordScanStatus.Oversized;
            }

            if (buffer.Length < 5 + length)
            {
                break;
            }

            var fragment = buffer.Slice(5, length);
            RecordsSeen++;
            switch ((TlsContentType)type)
            {
                case TlsContentType.Handshake when !EncryptionStarted:
                    foreach (var segment in fragment)
                    {
                        _handshake.Write(segment.Span);
                    }

                    if (!ExtractMessages(version))
                    {
                        return RecordScanStatus.Oversized;
                    }

                    break;
                case TlsContentType.Alert when !EncryptionStarted && length == 2:
                    var alert = fragment.ToArray();
                    Alerts.Add(new TlsAlert(alert[0], alert[1]));
                    break;
                case TlsContentType.ChangeCipherSpec or TlsContentType.ApplicationData:
                    EncryptionStarted = true;
                    break;
            }

            buffer = buffer.Slice(5 + length);
            progressed = true;
        }

        return progressed ? RecordScanStatus.Progress : RecordScanStatus.NeedMore;
    }

    /// <summary>The SSLv2 CLIENT-HELLO shape (draft-hickman SSL 2.0, RFC 6101 E.2): a 2-byte header with the high
    /// bit set, message type 1, version 0.2 or 3.x, and cipher-spec, session-id and challenge lengths that fit the
    /// record. Anything less is just bytes that are not TLS, and is described as such.</summary>
    private static bool IsSslV2ClientHello(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[11];
        if (buffer.Length < head.Length)
        {
            return false;
        }

        buffer.Slice(0, head.Length).CopyTo(head);
        var recordLength = ((head[0] & 0x7F) << 8) | head[1];
        var version = BinaryPrimitives.ReadUInt16BigEndian(head[3..]);
        var cipherSpecs = BinaryPrimitives.ReadUInt16BigEndian(head[5..]);
        var sessionId = BinaryPrimitives.ReadUInt16BigEndian(head[7..]);
        var challenge = BinaryPrimitives.ReadUInt16BigEndian(head[9..]);
        return (head[0] & 0x80) != 0
            && head[2] == 1
            && (version == 0x0002 || ((version >> 8) == 3 && (version & 0xFF) <= 4))
            && cipherSpecs > 0 && cipherSpecs % 3 == 0
            && sessionId is 0 or 16
            && challenge is >= 16 and <= 32
            && recordLength == 9 + cipherSpecs + sessionId + challenge;
    }

    private bool ExtractMessages(int recordVersion)
    {
        while (true)
        {
            var pending = _handshake.WrittenSpan;
            if (pending.Length < 4)
            {
                return true;
            }

            var length = (pending[1] << 16) | (pending[2] << 8) | pending[3];
            if (length > MaxHandshakeMessage)
            {
                Problem = $"handshake message of {length} bytes exceeds the {MaxHandshakeMessage}-byte maximum";
                return false;
            }

            if (pending.Length < 4 + length)
            {
                return true;
            }

            Messages.Add(new HandshakeMessage(pending[0], pending.Slice(4, length).ToArray(), recordVersion));
            var rest = pending[(4 + length)..].ToArray();
            _handshake.Clear();
            _handshake.Write(rest);
        }
    }
}
