using System.Buffers.Binary;
using System.Net;
using System.Text;
using SmtpLens.Capture;

namespace SmtpLens.Tests.Capture;

/// <summary>The pcapng a session writes, parsed back block by block and packet by packet.</summary>
public sealed class CaptureWriterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
    private static readonly IPEndPoint Client = IPEndPoint.Parse("192.0.2.10:40001");
    private static readonly IPEndPoint Listen = IPEndPoint.Parse("192.0.2.1:25");
    private static readonly IPEndPoint Source = IPEndPoint.Parse("198.51.100.1:50002");
    private static readonly IPEndPoint Upstream = IPEndPoint.Parse("198.51.100.25:25");

    private static readonly string[] Secrets = ["CLIENT_RANDOM 0a0b 0c0d", "CLIENT_RANDOM 1a1b 1c1d"];

    [Fact]
    public void Write_Session_Blocks_Follow_The_Pcapng_Framing()
    {
        var blocks = Blocks(WriteSession(aborted: false, out _));

        // SHB: byte-order magic, version 1.0, section length -1, then the two interfaces, raw IP, microseconds.
        Assert.Equal(PcapngBlocks.SectionHeaderType, blocks[0].Type);
        Assert.Equal(0x1A2B3C4Du, BinaryPrimitives.ReadUInt32LittleEndian(blocks[0].Body));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(blocks[0].Body.AsSpan(4)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(blocks[0].Body.AsSpan(6)));
        Assert.Equal(-1L, BinaryPrimitives.ReadInt64LittleEndian(blocks[0].Body.AsSpan(8)));
        Assert.Contains(PcapngReader.Options(blocks[0].Body, 16), o => o.Code == 4 && Encoding.UTF8.GetString(o.Value) == "SmtpLens");
        Assert.All(blocks[1..3], b => Assert.Equal(PcapngBlocks.InterfaceDescriptionType, b.Type));
        Assert.All(blocks[1..3], b => Assert.Equal(((ushort)101, (byte)6), PcapngReader.Interface(b)));
        Assert.Equal("S1 client leg", Encoding.UTF8.GetString(PcapngReader.Options(blocks[1].Body, 8).Single(o => o.Code == 2).Value));
        Assert.Equal("S1 upstream leg", Encoding.UTF8.GetString(PcapngReader.Options(blocks[2].Body, 8).Single(o => o.Code == 2).Value));

        // Every block body is 32-bit aligned (the reader checked both total lengths).
        Assert.All(blocks, b => Assert.Equal(0, b.Body.Length % 4));
    }

    [Fact]
    public void Write_Session_Secrets_Precede_The_Packets_Held_During_The_Handshake()
    {
        var blocks = Blocks(WriteSession(aborted: false, out _));
        var dsb = blocks.FindIndex(b => b.Type == PcapngBlocks.DecryptionSecretsType);
        Assert.True(dsb > 2);
        var (type, secrets) = PcapngReader.Secrets(blocks[dsb]);
        Assert.Equal(0x544C534Bu, type);
        Assert.Equal(string.Concat(Secrets.Select(s => s + "\n")), Encoding.ASCII.GetString(secrets));
        Assert.Single(blocks, b => b.Type == PcapngBlocks.DecryptionSecretsType);

        // The first TLS record (0x16 handshake) written while holding comes after the DSB.
        var firstTls = blocks.FindIndex(b => b.Type == PcapngBlocks.EnhancedPacketType && Segment(b).Payload is [0x16, ..]);
        Assert.True(firstTls > dsb, $"TLS packet at {firstTls}, secrets at {dsb}");
    }

    [Fact]
    public void Write_Session_Packets_Are_Valid_Tcp_With_Contiguous_Sequence_Numbers()
    {
        var blocks = Blocks(WriteSession(aborted: false, out var fed));
        var packets = blocks.Where(b => b.Type == PcapngBlocks.EnhancedPacketType).Select(b => (Leg: PcapngReader.Packet(b).InterfaceId, Segment: Segment(b), Block: b)).ToList();
        Assert.All(packets, p => Assert.True(p.Segment.ChecksumsValid, $"bad checksum {p.Segment}"));

        foreach (var (leg, initiator, responder) in new[] { (0u, Client, Listen), (1u, Source, Upstream) })
        {
            var segments = packets.Where(p => p.Leg == leg).Select(p => p.Segment).ToList();

            // Three-way handshake opened by the side that dialled.
            Assert.True(segments[0].Syn && !segments[0].AckFlag);
            Assert.Equal(initiator, segments[0].Source);
            Assert.True(segments[1].Syn && segments[1].AckFlag && segments[1].Ack == segments[0].Seq + 1);
            Assert.True(!segments[2].Syn && segments[2].AckFlag);

            foreach (var from in new[] { initiator, responder })
            {
                var to = from == initiator ? responder : initiator;
                var mine = segments.Where(s => s.Source.Equals(from)).ToList();

                // Each segment starts where the previous one ended (SYN and FIN count one).
                for (var i = 1; i < mine.Count; i++)
                {
                    var previous = mine[i - 1];
                    Assert.Equal(previous.Seq + (uint)previous.Payload.Length + (previous.Syn || previous.Fin ? 1u : 0u), mine[i].Seq);
                }

                // The payload reassembles to exactly what was fed in for that direction.
                var inbound = from == (leg == 0 ? Client : Upstream);
                Assert.Equal(fed[(leg, inbound)], mine.SelectMany(s => s.Payload).ToArray());
                Assert.All(mine, s => Assert.Equal(to, s.Destination));
            }

            // Each ends with FIN from SmtpLens on a clean end; nothing is acknowledged before it was sent.
            var last = segments[^1];
            Assert.True(last.Fin);
            Assert.All(segments.Where(s => s.AckFlag), s =>
            {
                var sent = segments.TakeWhile(x => !ReferenceEquals(x, s)).Where(x => !x.Source.Equals(s.Source)).ToList();
                var highest = sent.Count == 0 ? 0 : sent.Max(x => x.Seq + (uint)x.Payload.Length + (x.Syn || x.Fin ? 1u : 0u));
                Assert.True(s.Ack <= highest, $"ack {s.Ack} beyond {highest}");
            });
        }

        // Directions: inbound (1) towards SmtpLens, outbound (2) from it.
        var clientHello = packets.First(p => p.Leg == 0 && p.Segment.Payload.Length > 0 && p.Segment.Source.Equals(Client));
        Assert.Contains(PcapngReader.Options(clientHello.Block.Body, 20 + PcapngBlocks.Pad4(PcapngReader.Packet(clientHello.Block).Packet.Length)), o => o.Code == 2 && BinaryPrimitives.ReadUInt32LittleEndian(o.Value) == 1);
    }

    [Fact]
    public void Write_Aborted_Session_Resets_The_Legs_Still_Open()
    {
        var blocks = Blocks(WriteSession(aborted: true, out _));
        var segments = blocks.Where(b => b.Type == PcapngBlocks.EnhancedPacketType).Select(b => (PcapngReader.Packet(b).InterfaceId, Segment(b))).ToList();
        Assert.True(segments.Last(s => s.InterfaceId == 0).Item2.Rst);
        Assert.True(segments.Last(s => s.InterfaceId == 1).Item2.Rst);
        Assert.Equal(Listen, segments.Last(s => s.InterfaceId == 0).Item2.Source);
    }

    [Fact]
    public void Write_Timestamps_Are_Microseconds_And_Never_Go_Back()
    {
        using var stream = new MemoryStream();
        var writer = new CaptureWriter(stream, "S2");
        writer.Open(CaptureLeg.Client, Listen, Client, T0);
        writer.Data(CaptureLeg.Client, true, "EHLO a\r\n"u8, T0.AddMilliseconds(1.5));
        writer.Data(CaptureLeg.Client, false, "250 ok\r\n"u8, T0.AddMilliseconds(1));
        writer.End(false, [], T0.AddSeconds(2));
        stream.Position = 0;
        var stamps = PcapngReader.ReadBlocks(stream).Where(b => b.Type == PcapngBlocks.EnhancedPacketType).Select(b => PcapngReader.Packet(b).Timestamp).ToList();
        var epochMicros = (ulong)((T0 - DateTimeOffset.UnixEpoch).Ticks / 10);
        Assert.Equal([epochMicros, epochMicros, epochMicros, epochMicros + 1500, epochMicros + 1500, epochMicros + 2_000_000], stamps);
    }

    [Fact]
    public void Write_Ipv6_And_Mapped_Addresses_Give_Valid_Packets_Of_Their_Family()
    {
        using var stream = new MemoryStream();
        var writer = new CaptureWriter(stream, "S3");
        writer.Open(CaptureLeg.Client, IPEndPoint.Parse("[2001:db8::1]:25"), IPEndPoint.Parse("[2001:db8::2]:41000"), T0);
        writer.Open(CaptureLeg.Upstream, IPEndPoint.Parse("[::ffff:127.0.0.1]:42000"), IPEndPoint.Parse("[::ffff:127.0.0.2]:25"), T0);
        writer.Data(CaptureLeg.Client, true, "EHLO x\r\n"u8, T0);
        writer.Data(CaptureLeg.Upstream, false, "EHLO x\r\n"u8, T0);
        writer.End(false, [], T0);
        stream.Position = 0;
        var segments = PcapngReader.ReadBlocks(stream).Where(b => b.Type == PcapngBlocks.EnhancedPacketType).Select(b => (PcapngReader.Packet(b).InterfaceId, Segment(b))).ToList();
        Assert.All(segments, s => Assert.True(s.Item2.ChecksumsValid));
        Assert.All(segments.Where(s => s.InterfaceId == 0), s => Assert.Equal(System.Net.Sockets.AddressFamily.InterNetworkV6, s.Item2.Source.AddressFamily));
        Assert.All(segments.Where(s => s.InterfaceId == 1), s => Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, s.Item2.Source.AddressFamily));
        Assert.Equal(IPAddress.Parse("127.0.0.1"), segments.First(s => s.InterfaceId == 1).Item2.Source.Address);
    }

    [Fact]
    public void Write_Large_Read_Is_Split_Into_Segments_That_Fit_An_Ip_Packet()
    {
        var big = new byte[150_000];
        new Random(7).NextBytes(big);
        using var stream = new MemoryStream();
        var writer = new CaptureWriter(stream, "S4");
        writer.Open(CaptureLeg.Upstream, Source, Upstream, T0);
        writer.Data(CaptureLeg.Upstream, false, big, T0);
        writer.End(false, [], T0);
        stream.Position = 0;
        var data = PcapngReader.ReadBlocks(stream).Where(b => b.Type == PcapngBlocks.EnhancedPacketType).Select(Segment).Where(s => s.Payload.Length > 0).ToList();
        Assert.Equal(3, data.Count);
        Assert.All(data, s => Assert.True(s.ChecksumsValid));
        Assert.Equal(big, data.SelectMany(s => s.Payload).ToArray());
    }

    [Fact]
    public void Merge_Keeps_Every_Interface_Puts_Secrets_First_And_Orders_Packets_By_Time()
    {
        var dir = Directory.CreateTempSubdirectory("smtplens-merge-").FullName;
        try
        {
            var a = Path.Combine(dir, "a.pcapng");
            var b = Path.Combine(dir, "b.pcapng");
            File.WriteAllBytes(a, WriteSession(aborted: false, out _, "A", T0));
            File.WriteAllBytes(b, WriteSession(aborted: true, out _, "B", T0.AddMilliseconds(2.5)));
            using var merged = new MemoryStream();
            var result = PcapngMerge.Merge([a, b], merged);
            merged.Position = 0;
            var blocks = PcapngReader.ReadBlocks(merged).ToList();
            Assert.Equal((2, 4, 2), (result.Files, result.Interfaces, result.SecretsBlocks));
            Assert.Equal(PcapngBlocks.SectionHeaderType, blocks[0].Type);
            Assert.Equal(4, blocks.Count(x => x.Type == PcapngBlocks.InterfaceDescriptionType));
            var firstPacket = blocks.FindIndex(x => x.Type == PcapngBlocks.EnhancedPacketType);
            Assert.Equal(2, blocks.Take(firstPacket).Count(x => x.Type == PcapngBlocks.DecryptionSecretsType));
            var packets = blocks.Skip(firstPacket).Select(PcapngReader.Packet).ToList();
            Assert.Equal(result.Packets, packets.Count);
            Assert.Equal(packets.Select(p => p.Timestamp).Order(), packets.Select(p => p.Timestamp));
            Assert.Equal([0u, 1u, 2u, 3u], packets.Select(p => p.InterfaceId).Distinct().Order());

            // B's interfaces are 2 and 3 now; its packets are still B's (B aborted: its legs end in RST).
            Assert.True(Segment(packets.Last(p => p.InterfaceId == 3).Packet).Rst);
            Assert.True(Segment(packets.Last(p => p.InterfaceId == 1).Packet).Fin);
            Assert.Equal(packets.Count(p => p.InterfaceId <= 1), packets.Count(p => p.InterfaceId >= 2));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Read_Rejects_A_Block_Whose_Trailing_Length_Differs()
    {
        var shb = PcapngBlocks.SectionHeader("x");
        shb[^4]++;
        Assert.Throws<InvalidDataException>(() => PcapngReader.ReadBlocks(new MemoryStream(shb)).ToList());
    }

    /// <summary>A STARTTLS session: plaintext, a held handshake, secrets, encrypted records, the end.</summary>
    private static byte[] WriteSession(bool aborted, out Dictionary<(uint Leg, bool Inbound), byte[]> fed, string id = "S1", DateTimeOffset? start = null)
    {
        var t = start ?? T0;
        var feeds = new Dictionary<(uint, bool), List<byte>> { [(0, true)] = [], [(0, false)] = [], [(1, true)] = [], [(1, false)] = [] };
        using var stream = new MemoryStream();
        var writer = new CaptureWriter(stream, id);
        void Data(CaptureLeg leg, bool inbound, byte[] bytes)
        {
            t = t.AddMilliseconds(1);
            writer.Data(leg, inbound, bytes, t);
            feeds[((uint)leg, inbound)].AddRange(bytes);
        }

        writer.Open(CaptureLeg.Client, Listen, Client, t);
        writer.Open(CaptureLeg.Upstream, Source, Upstream, t);
        Data(CaptureLeg.Upstream, true, "220 mx ESMTP\r\n"u8.ToArray());
        Data(CaptureLeg.Client, false, "220 mx ESMTP\r\n"u8.ToArray());
        Data(CaptureLeg.Client, true, "EHLO c\r\nSTARTTLS\r\n"u8.ToArray());
        Data(CaptureLeg.Upstream, false, "STARTTLS\r\n"u8.ToArray());
        Data(CaptureLeg.Upstream, true, "220 go\r\n"u8.ToArray());
        Data(CaptureLeg.Client, false, "220 go\r\n"u8.ToArray());
        writer.Hold();
        Data(CaptureLeg.Client, true, [0x16, 0x03, 0x01, 0x00, 0x01, 0x01]);
        Data(CaptureLeg.Upstream, false, [0x16, 0x03, 0x01, 0x00, 0x01, 0x01]);
        Data(CaptureLeg.Upstream, true, [0x16, 0x03, 0x03, 0x00, 0x01, 0x02, 0x17, 0x03, 0x03, 0x00, 0x01, 0xAA]);
        Data(CaptureLeg.Client, false, [0x16, 0x03, 0x03, 0x00, 0x01, 0x02]);
        writer.Release(Secrets);
        Data(CaptureLeg.Client, true, [0x17, 0x03, 0x03, 0x00, 0x02, 0xBB, 0xCC]);
        Data(CaptureLeg.Upstream, false, [0x17, 0x03, 0x03, 0x00, 0x02, 0xDD, 0xEE, 0xFF]);
        writer.End(aborted, [], t.AddMilliseconds(1));
        fed = feeds.ToDictionary(f => f.Key, f => f.Value.ToArray());
        return stream.ToArray();
    }

    private static List<PcapngBlock> Blocks(byte[] file) => [.. PcapngReader.ReadBlocks(new MemoryStream(file))];

    private static RawTcpSegment Segment(PcapngBlock epb) => RawTcpSegment.Parse(PcapngReader.Packet(epb).Packet);

    private static RawTcpSegment Segment(byte[] packet) => RawTcpSegment.Parse(packet);
}
