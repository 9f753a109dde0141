using System.Buffers.Binary;
using System.Text;

namespace SmtpLens.Net.Resolver;

/// <summary>One MX record: lower preference is tried first (RFC 5321 5.1).</summary>
internal sealed record MxRecord(int Preference, string Exchange)
{
    /// <summary>RFC 7505 "null MX": the domain accepts no mail at all.</summary>
    public bool IsNullMx => Exchange.Length == 0;
}

/// <summary>The parts of a DNS response an MX lookup needs.</summary>
internal sealed record DnsResponse(ushort Id, int ResponseCode, bool Truncated, IReadOnlyList<MxRecord> Mx)
{
    public const int NoError = 0;
    public const int NameError = 3;

    public string ResponseCodeName => ResponseCode switch
    {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => $"RCODE {ResponseCode}",
    };
}

/// <summary>Builds an MX query and parses its answer (RFC 1035 4.1), with no I/O.</summary>
/// <remarks>.NET has no MX API; this is the smallest DNS client that answers "which hosts receive mail for
/// this domain". Everything other than MX answers is skipped, and malformed input is a FormatException.</remarks>
internal static class DnsMessage
{
    public const ushort TypeMx = 15;
    private const ushort ClassIn = 1;
    private const int HeaderLength = 12;
    private const int MaxPointerHops = 32;

    public static byte[] BuildMxQuery(ushort id, string domain)
    {
        var name = EncodeName(domain);
        var query = new byte[HeaderLength + name.Length + 4];
        BinaryPrimitives.WriteUInt16BigEndian(query, id);
        query[2] = 0x01; // RD: let the resolver recurse.
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(4), 1); // QDCOUNT
        name.CopyTo(query, HeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(HeaderLength + name.Length), TypeMx);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(HeaderLength + name.Length + 2), ClassIn);
        return query;
    }

    public static byte[] EncodeName(string domain)
    {
        var trimmed = domain.Trim().TrimEnd('.');
        var bytes = new List<byte>(trimmed.Length + 2);
        if (trimmed.Length > 0)
        {
            foreach (var label in trimmed.Split('.'))
            {
                var ascii = Encoding.ASCII.GetBytes(label);
                if (ascii.Length is 0 or > 63 || label.Any(c => c > 0x7e || c <= ' '))
                {
                    throw new FormatException($"\"{domain}\" is not a valid domain name (empty, non-ASCII or over-long label)");
                }

                bytes.Add((byte)ascii.Length);
                bytes.AddRange(ascii);
            }
        }

        bytes.Add(0);
        return bytes.Count > 255 ? throw new FormatException($"\"{domain}\" is longer than 255 bytes") : [.. bytes];
    }

    public static DnsResponse ParseResponse(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderLength)
        {
            throw new FormatException($"DNS response of {message.Length} bytes is shorter than a header");
        }

        var id = BinaryPrimitives.ReadUInt16BigEndian(message);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        if ((flags & 0x8000) == 0)
        {
            throw new FormatException("DNS message is a query, not a response");
        }

        var questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        var answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        var offset = HeaderLength;
        for (var i = 0; i < questions; i++)
        {
            _ = ReadName(message, ref offset);
            offset += 4;
        }

        var mx = new List<MxRecord>();
        for (var i = 0; i < answers; i++)
        {
            _ = ReadName(message, ref offset);
            Need(message, offset, 10);
            var type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            offset += 10;
            Need(message, offset, length);
            if (type == TypeMx)
            {
                if (length < 3)
                {
                    throw new FormatException("MX record shorter than preference plus name");
                }

                var at = offset + 2;
                var exchange = ReadName(message, ref at);
                mx.Add(new MxRecord(BinaryPrimitives.ReadUInt16BigEndian(message[offset..]), exchange));
            }

            offset += length;
        }

        return new DnsResponse(id, flags & 0x000f, (flags & 0x0200) != 0, mx);
    }

    /// <summary>A possibly compressed name (RFC 1035 4.1.4); the offset moves past it in the original position.</summary>
    public static string ReadName(ReadOnlySpan<byte> message, ref int offset)
    {
        var labels = new List<string>();
        var position = offset;
        var jumped = false;
        for (var hops = 0; ;)
        {
            Need(message, position, 1);
            var length = message[position];
            if (length == 0)
            {
                position++;
                break;
            }

            if ((length & 0xc0) == 0xc0)
            {
                Need(message, position, 2);
                if (++hops > MaxPointerHops)
                {
                    throw new FormatException("DNS name compression loop");
                }

                var target = BinaryPrimitives.ReadUInt16BigEndian(message[position..]) & 0x3fff;
                if (!jumped)
                {
                    offset = position + 2;
                    jumped = true;
                }

                position = target;
                continue;
            }

            if ((length & 0xc0) != 0)
            {
                throw new FormatException($"DNS label type 0x{length:x2} is not supported");
            }

            Need(message, position + 1, length);
            labels.Add(Encoding.ASCII.GetString(message.Slice(position + 1, length)));
            position += 1 + length;
        }

        if (!jumped)
        {
            offset = position;
        }

        return string.Join('.', labels);
    }

    private static void Need(ReadOnlySpan<byte> message, int offset, int count)
    {
        if (offset < 0 || offset + count > message.Length)
        {
            throw new FormatException($"DNS response truncated: needs {count} bytes at offset {offset} of {message.Length}");
        }
    }
}
