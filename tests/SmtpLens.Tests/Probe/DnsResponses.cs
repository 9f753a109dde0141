using System.Buffers.Binary;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Tests.Probe;

/// <summary>Hand-built DNS answers (RFC 1035 4.1) for the parser and the fake resolver.</summary>
internal static class DnsResponses
{
    /// <summary>A response to <paramref name="query"/> with MX answers whose exchange names are compressed
    /// against the question name when they end with it (as real servers do).</summary>
    public static byte[] Mx(byte[] query, int rcode, bool truncated, params (int Preference, string Exchange)[] answers)
    {
        var question = query.AsSpan(12).ToArray();
        var offset = 12;
        var domain = DnsMessage.ReadName(query, ref offset);
        var message = new List<byte>();
        message.AddRange(query.AsSpan(0, 2).ToArray());
        message.Add((byte)(0x81 | (truncated ? 0x02 : 0)));
        message.Add((byte)(0x80 | rcode));
        message.AddRange([0, 1, 0, (byte)answers.Length, 0, 0, 0, 0]);
        message.AddRange(question);
        foreach (var (preference, exchange) in answers)
        {
            message.AddRange([0xc0, 0x0c, 0, 15, 0, 1, 0, 0, 0x0e, 0x10]);
            var rdata = new List<byte> { (byte)(preference >> 8), (byte)preference };
            if (exchange.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase))
            {
                var label = exchange[..^(domain.Length + 1)];
                rdata.AddRange(DnsMessage.EncodeName(label)[..^1]);
                rdata.AddRange([0xc0, 0x0c]);
            }
            else
            {
                rdata.AddRange(DnsMessage.EncodeName(exchange));
            }

            var length = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)rdata.Count);
            message.AddRange(length);
            message.AddRange(rdata);
        }

        return [.. message];
    }
}
