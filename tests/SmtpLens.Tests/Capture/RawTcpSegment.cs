using System.Buffers.Binary;
using System.Net;

namespace SmtpLens.Tests.Capture;

/// <summary>A raw IPv4/IPv6 + TCP packet decoded by hand, with both checksums verified independently of the
/// library that built it (RFC 791 / RFC 793 / RFC 8200 pseudo-header, one's-complement sum).</summary>
internal sealed record RawTcpSegment(IPEndPoint Source, IPEndPoint Destination, uint Seq, uint Ack, byte Flags, ushort Window, byte[] Payload, bool ChecksumsValid)
{
    public bool Syn => (Flags & 0x02) != 0;

    public bool Fin => (Flags & 0x01) != 0;

    public bool Rst => (Flags & 0x04) != 0;

    public bool AckFlag => (Flags & 0x10) != 0;

    public static RawTcpSegment Parse(byte[] packet)
    {
        var version = packet[0] >> 4;
        int headerLength;
        IPAddress source, destination;
        int tcpLength;
        var valid = true;
        byte[] pseudo;
        if (version == 4)
        {
            headerLength = (packet[0] & 0x0F) * 4;
            var total = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(2));
            Assert.Equal(packet.Length, total);
            Assert.Equal(6, packet[9]);
            valid &= Sum(packet.AsSpan(0, headerLength)) == 0xFFFF;
            source = new IPAddress(packet.AsSpan(12, 4));
            destination = new IPAddress(packet.AsSpan(16, 4));
            tcpLength = total - headerLength;
            pseudo = [.. packet.AsSpan(12, 8), 0, 6, (byte)(tcpLength >> 8), (byte)tcpLength];
        }
        else
        {
            Assert.Equal(6, version);
            headerLength = 40;
            Assert.Equal(packet.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(4)));
            Assert.Equal(6, packet[6]);
            source = new IPAddress(packet.AsSpan(8, 16));
            destination = new IPAddress(packet.AsSpan(24, 16));
            tcpLength = packet.Length - 40;
            pseudo = [.. packet.AsSpan(8, 32), 0, 0, (byte)(tcpLength >> 8), (byte)tcpLength, 0, 0, 0, 6];
        }

        var tcp = packet.AsSpan(headerLength);
        valid &= Sum([.. pseudo, .. tcp]) == 0xFFFF;
        var dataOffset = (tcp[12] >> 4) * 4;
        return new RawTcpSegment(
            new IPEndPoint(source, BinaryPrimitives.ReadUInt16BigEndian(tcp)),
            new IPEndPoint(destination, BinaryPrimitives.ReadUInt16BigEndian(tcp[2..])),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]),
            tcp[13],
            BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]),
            tcp[dataOffset..].ToArray(),
            valid);
    }

    /// <summary>One's-complement sum of 16-bit words; a correct checksum makes the whole sum 0xFFFF.</summary>
    private static int Sum(ReadOnlySpan<byte> bytes)
    {
        long sum = 0;
        for (var i = 0; i + 1 < bytes.Length; i += 2)
        {
            sum += (bytes[i] << 8) | bytes[i + 1];
        }

        if (bytes.Length % 2 == 1)
        {
            sum += bytes[^1] << 8;
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (int)sum;
    }
}
