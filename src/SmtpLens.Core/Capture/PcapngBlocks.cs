using System.Buffers.Binary;
using System.Text;

namespace SmtpLens.Capture;

/// <summary>Encodes the four pcapng blocks SmtpLens writes (little-endian, as the byte-order magic says).</summary>
/// <remarks>Pure functions over bytes, following the pcapng specification (IETF draft-ietf-opsawg-pcapng): every
/// block is type, total length, body padded to 32 bits, total length again; options are code, length, value padded
/// to 32 bits, ended by opt_endofopt.</remarks>
internal static class PcapngBlocks
{
    public const uint SectionHeaderType = 0x0A0D0D0A;
    public const uint InterfaceDescriptionType = 0x00000001;
    public const uint EnhancedPacketType = 0x00000006;
    public const uint DecryptionSecretsType = 0x0000000A;
    public const uint ByteOrderMagic = 0x1A2B3C4D;

    /// <summary>"TLSK": the secrets are NSS key-log lines.</summary>
    public const uint TlsKeyLogSecrets = 0x544C534B;

    /// <summary>LINKTYPE_RAW: each packet starts with an IPv4 or IPv6 header.</summary>
    public const ushort LinkTypeRaw = 101;

    private const ushort OptComment = 1;
    private const ushort ShbUserApplication = 4;
    private const ushort IfName = 2;
    private const ushort IfDescription = 3;
    private const ushort IfTsResol = 9;
    private const ushort EpbFlags = 2;

    /// <summary>Section Header Block, section length unknown (-1), naming the writing application.</summary>
    public static byte[] SectionHeader(string application)
    {
        var options = Options([(ShbUserApplication, Encoding.UTF8.GetBytes(application))]);
        var body = new byte[16 + options.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(6), 0);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(8), -1);
        options.CopyTo(body, 16);
        return Block(SectionHeaderType, body);
    }

    /// <summary>Interface Description Block with if_tsresol <paramref name="tsResolution"/> (10^-n seconds).</summary>
    public static byte[] InterfaceDescription(ushort linkType, string name, string description, byte tsResolution)
    {
        var options = Options([(IfName, Encoding.UTF8.GetBytes(name)), (IfDescription, Encoding.UTF8.GetBytes(description)), (IfTsResol, [tsResolution])]);
        var body = new byte[8 + options.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(body, linkType);

        // Reserved (2 bytes, zero), then SnapLen 0: no limit.
        options.CopyTo(body, 8);
        return Block(InterfaceDescriptionType, body);
    }

    /// <summary>Enhanced Packet Block; <paramref name="timestamp"/> is in the interface's if_tsresol units.</summary>
    /// <param name="inbound">epb_flags direction: true inbound (towards SmtpLens), false outbound, null unknown.</param>
    public static byte[] EnhancedPacket(uint interfaceId, ulong timestamp, ReadOnlySpan<byte> packet, bool? inbound, string? comment = null)
    {
        var list = new List<(ushort, byte[])>();
        if (inbound is { } dir)
        {
            var flags = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(flags, dir ? 1u : 2u);
            list.Add((EpbFlags, flags));
        }

        if (comment is not null)
        {
            list.Add((OptComment, Encoding.UTF8.GetBytes(comment)));
        }

        var options = list.Count > 0 ? Options(list) : [];
        var padded = Pad4(packet.Length);
        var body = new byte[20 + padded + options.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, interfaceId);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)(timestamp >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)timestamp);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), (uint)packet.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), (uint)packet.Length);
        packet.CopyTo(body.AsSpan(20));
        options.CopyTo(body, 20 + padded);
        return Block(EnhancedPacketType, body);
    }

    /// <summary>Decryption Secrets Block (what <c>editcap --inject-secrets</c> writes).</summary>
    public static byte[] DecryptionSecrets(uint secretsType, ReadOnlySpan<byte> secrets)
    {
        var body = new byte[8 + Pad4(secrets.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(body, secretsType);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)secrets.Length);
        secrets.CopyTo(body.AsSpan(8));
        return Block(DecryptionSecretsType, body);
    }

    /// <summary>Length rounded up to a multiple of 4.</summary>
    public static int Pad4(int length) => (length + 3) & ~3;

    private static byte[] Block(uint type, byte[] body)
    {
        // The body is already 32-bit aligned; type and both lengths add 12 bytes.
        var total = 12 + body.Length;
        var block = new byte[total];
        BinaryPrimitives.WriteUInt32LittleEndian(block, type);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), (uint)total);
        body.CopyTo(block, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(total - 4), (uint)total);
        return block;
    }

    private static byte[] Options(IReadOnlyList<(ushort Code, byte[] Value)> options)
    {
        var length = options.Sum(o => 4 + Pad4(o.Value.Length)) + 4;
        var bytes = new byte[length];
        var at = 0;
        foreach (var (code, value) in options)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), code);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at + 2), (ushort)value.Length);
            value.CopyTo(bytes, at + 4);
            at += 4 + Pad4(value.Length);
        }

        // The last four bytes stay zero: opt_endofopt (code 0, length 0).
        return bytes;
    }
}
