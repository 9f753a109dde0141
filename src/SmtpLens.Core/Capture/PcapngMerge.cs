using System.Text;

namespace SmtpLens.Capture;

/// <summary><c>smtplens pcap</c>: several sessions' captures as one pcapng section.</summary>
/// <remarks>Every input interface becomes an interface of the output (renumbered in input order), every Decryption
/// Secrets Block is written before the first packet so each session decrypts wherever its packets fall, and the
/// packets are interleaved by time (stable: a file's own order is kept for equal times). The packets are held in
/// memory while merging.</remarks>
internal static class PcapngMerge
{
    public sealed record Result(int Files, int Interfaces, int SecretsBlocks, int Packets);

    public static Result Merge(IReadOnlyList<string> inputs, Stream output)
    {
        var interfaces = new List<PcapngBlock>();
        var secrets = new List<PcapngBlock>();
        var packets = new List<(decimal Seconds, int Order, PcapngBlock Block)>();
        foreach (var input in inputs)
        {
            using var stream = File.OpenRead(input);
            var local = new List<(uint Id, byte Resolution)>();
            foreach (var block in PcapngReader.ReadBlocks(stream))
            {
                switch (block.Type)
                {
                    case PcapngBlocks.SectionHeaderType:
                        // A new section restarts interface numbering.
                        local.Clear();
                        break;
                    case PcapngBlocks.InterfaceDescriptionType:
                        local.Add(((uint)interfaces.Count, PcapngReader.Interface(block).TsResolution));
                        interfaces.Add(block);
                        break;
                    case PcapngBlocks.DecryptionSecretsType:
                        secrets.Add(block);
                        break;
                    case PcapngBlocks.EnhancedPacketType:
                        var (id, timestamp, _) = PcapngReader.Packet(block);
                        if (id >= local.Count)
                        {
                            throw new InvalidDataException($"{input}: a packet names interface {id}, which the section does not describe");
                        }

                        var (mergedId, resolution) = local[(int)id];
                        packets.Add((Seconds(timestamp, resolution), packets.Count, PcapngReader.WithInterface(block, mergedId)));
                        break;
                    default:
                        // Other blocks (statistics, name resolution) describe one file; they are left out.
                        break;
                }
            }
        }

        output.Write(PcapngBlocks.SectionHeader("SmtpLens (smtplens pcap merge)"));
        foreach (var block in interfaces.Concat(secrets))
        {
            output.Write(block.ToBytes());
        }

        foreach (var (_, _, block) in packets.OrderBy(p => p.Seconds).ThenBy(p => p.Order))
        {
            output.Write(block.ToBytes());
        }

        return new Result(inputs.Count, interfaces.Count, secrets.Count, packets.Count);
    }

    /// <summary>if_tsresol: the high bit set means a power of two, else a power of ten.</summary>
    private static decimal Seconds(ulong timestamp, byte resolution)
    {
        var exponent = resolution & 0x7F;
        var unit = (resolution & 0x80) != 0 ? (decimal)Math.Pow(2, exponent) : (decimal)Math.Pow(10, exponent);
        return timestamp / unit;
    }

    /// <summary>The secrets of a merged or single file as text (tests and diagnostics).</summary>
    public static string KeyLog(Stream pcapng) =>
        string.Concat(PcapngReader.ReadBlocks(pcapng)
            .Where(b => b.Type == PcapngBlocks.DecryptionSecretsType)
            .Select(PcapngReader.Secrets)
            .Where(s => s.SecretsType == PcapngBlocks.TlsKeyLogSecrets)
            .Select(s => Encoding.ASCII.GetString(s.Secrets)));
}
