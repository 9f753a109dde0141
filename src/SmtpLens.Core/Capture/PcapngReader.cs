using System.Buffers.Binary;

namespace SmtpLens.Capture;

/// <summary>One pcapng block: its type and its body (without the type and the two length fields).</summary>
internal sealed record PcapngBlock(uint Type, byte[] Body)
{
    /// <summary>The encoded block again, byte for byte.</summary>
    public byte[] ToBytes()
    {
        var total = 12 + Body.Length;
        var block = new byte[total];
        BinaryPrimitives.WriteUInt32LittleEndian(block, Type);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), (uint)total);
        Body.CopyTo(block, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(total - 4), (uint)total);
        return block;
    }
}

/// <summary>Reads back little-endian pcapng files (the ones SmtpLens writes) block by block, checking the framing.</summary>
internal static class PcapngReader
{
    /// <summary>The blocks of a stream, in order; throws <see cref="InvalidDataException"/> on bad framing.</summary>
    public static IEnumerable<PcapngBlock> ReadBlocks(Stream stream)
    {
        var header = new byte[8];
        var first = true;
        while (true)
        {
            var got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (got == 0)
            {
                yield break;
            }

            if (got < header.Length)
            {
                throw new InvalidDataException("pcapng: truncated block header");
            }

            var type = BinaryPrimitives.ReadUInt32LittleEndian(header);
            var total = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
            if (first && type != PcapngBlocks.SectionHeaderType)
            {
                throw new InvalidDataException("pcapng: the file does not start with a Section Header Block");
            }

            if (total < 12 || total % 4 != 0 || total > 64 * 1024 * 1024)
            {
                throw new InvalidDataException($"pcapng: block type 0x{type:x8} has an invalid total length {total}");
            }

            var rest = new byte[total - 8];
            stream.ReadExactly(rest);
            if (BinaryPrimitives.ReadUInt32LittleEndian(rest.AsSpan(rest.Length - 4)) != total)
            {
                throw new InvalidDataException($"pcapng: block type 0x{type:x8}: the trailing total length differs from the leading one");
            }

            var body = rest[..^4];
            if (type == PcapngBlocks.SectionHeaderType && (body.Length < 16 || BinaryPrimitives.ReadUInt32LittleEndian(body) != PcapngBlocks.ByteOrderMagic))
            {
                throw new InvalidDataException("pcapng: only little-endian sections are read");
            }

            first = false;
            yield return new PcapngBlock(type, body);
        }
    }

    /// <summary>The options of a block body from <paramref name="offset"/> on, up to opt_endofopt.</summary>
    public static IReadOnlyList<(ushort Code, byte[] Value)> Options(byte[] body, int offset)
    {
        var options = new List<(ushort, byte[])>();
        while (offset + 4 <= body.Length)
        {
            var code = BinaryPrimitives.ReadUInt16LittleEndian(body.AsSpan(offset));
            var length = BinaryPrimitives.ReadUInt16LittleEndian(body.AsSpan(offset + 2));
            if (code == 0)
            {
                break;
            }

            if (offset + 4 + length > body.Length)
            {
                throw new InvalidDataException($"pcapng: option {code} runs past its block");
            }

            options.Add((code, body.AsSpan(offset + 4, length).ToArray()));
            offset += 4 + PcapngBlocks.Pad4(length);
        }

        return options;
    }

    /// <summary>An Interface Description Block's link type and if_tsresol (6, microseconds, when absent).</summary>
    public static (ushort LinkType, byte TsResolution) Interface(PcapngBlock idb)
    {
        var tsresol = Options(idb.Body, 8).Where(o => o.Code == 9 && o.Value.Length == 1).Select(o => o.Value[0]).DefaultIfEmpty((byte)6).First();
        return (BinaryPrimitives.ReadUInt16LittleEndian(idb.Body), tsresol);
    }

    /// <summary>An Enhanced Packet Block's interface, timestamp (in that interface's units) and captured bytes.</summary>
    public static (uint InterfaceId, ulong Timestamp, byte[] Packet) Packet(PcapngBlock epb)
    {
        var body = epb.Body;
        var interfaceId = BinaryPrimitives.ReadUInt32LittleEndian(body);
        var timestamp = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(4)) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(8));
        var captured = (int)BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(12));
        if (20 + captured > body.Length)
        {
            throw new InvalidDataException("pcapng: packet data runs past its block");
        }

        return (interfaceId, timestamp, body.AsSpan(20, captured).ToArray());
    }

    /// <summary>A Decryption Secrets Block's secrets type and data.</summary>
    public static (uint SecretsType, byte[] Secrets) Secrets(PcapngBlock dsb)
    {
        var type = BinaryPrimitives.ReadUInt32LittleEndian(dsb.Body);
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(dsb.Body.AsSpan(4));
        if (8 + length > dsb.Body.Length)
        {
            throw new InvalidDataException("pcapng: secrets run past their block");
        }

        return (type, dsb.Body.AsSpan(8, length).ToArray());
    }

    /// <summary>Replaces an Enhanced Packet Block's interface id (merging renumbers interfaces).</summary>
    public static PcapngBlock WithInterface(PcapngBlock epb, uint interfaceId)
    {
        var body = (byte[])epb.Body.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(body, interfaceId);
        return epb with { Body = body };
    }
}
