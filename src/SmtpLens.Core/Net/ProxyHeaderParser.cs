using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace SmtpLens.Net;

internal enum ProxyParseStatus
{
    Complete,
    NeedMore,
    Invalid,
}

/// <param name="Length">Complete: bytes consumed. NeedMore: the total byte count to have before asking again.
/// Never more than the header can be, so reading exactly that much never takes bytes of the SMTP stream.</param>
internal readonly record struct ProxyParseResult(ProxyParseStatus Status, ProxyHeader? Header, int Length, string? Error)
{
    public static ProxyParseResult More(int total) => new(ProxyParseStatus.NeedMore, null, total, null);

    public static ProxyParseResult Bad(string error) => new(ProxyParseStatus.Invalid, null, 0, error);
}

/// <summary>HAProxy PROXY protocol v1 and v2 (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt), pure over bytes.</summary>
internal static class ProxyHeaderParser
{
    /// <summary>v1's longest line, CRLF included (spec section 2.1).</summary>
    public const int V1MaxLength = 107;

    /// <summary>"PROXY UNKNOWN\r\n", the shortest v1 header; every v2 header is longer.</summary>
    public const int MinLength = 15;

    public const int V2FixedLength = 16;

    public static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    /// <summary>True when <paramref name="start"/> (non-empty) begins like either header, so it must be read as one.</summary>
    public static bool BeginsLikeHeader(ReadOnlySpan<byte> start) =>
        !start.IsEmpty && (IsPrefixOf(start, V1Prefix) || IsPrefixOf(start, V2Signature));

    public static ProxyParseResult Parse(ReadOnlySpan<byte> input)
    {
        if (input.Length < MinLength && input.StartsWith(V1Prefix) && input.Contains((byte)'\n'))
        {
            return ParseV1(input);
        }

        if (input.Length < MinLength)
        {
            return BeginsLikeHeader(input) || input.IsEmpty ? ProxyParseResult.More(MinLength) : ProxyParseResult.Bad($"not a PROXY protocol header: starts with {Show(input)}");
        }

        if (input.StartsWith(V2Signature))
        {
            return ParseV2(input);
        }

        if (input.StartsWith(V1Prefix))
        {
            return ParseV1(input);
        }

        return ProxyParseResult.Bad($"not a PROXY protocol header: starts with {Show(input[..Math.Min(input.Length, 16)])}");
    }

    private static ProxyParseResult ParseV1(ReadOnlySpan<byte> input)
    {
        var limit = Math.Min(input.Length, V1MaxLength);
        var lf = input[..limit].IndexOf((byte)'\n');
        if (lf < 0)
        {
            return input.Length >= V1MaxLength
                ? ProxyParseResult.Bad($"PROXY v1 line has no CRLF within {V1MaxLength} bytes")
                : ProxyParseResult.More(input.Length + 1);
        }

        if (lf == 0 || input[lf - 1] != '\r')
        {
            return ProxyParseResult.Bad("PROXY v1 line ends in a bare LF");
        }

        var line = input[..(lf - 1)];
        foreach (var b in line)
        {
            if (b is < 0x20 or > 0x7E)
            {
                return ProxyParseResult.Bad($"PROXY v1 line has a control or 8-bit byte: {Show(line)}");
            }
        }

        var text = Encoding.ASCII.GetString(line);
        var parts = text.Split(' ');
        var length = lf + 1;
        if (parts.Length >= 2 && parts[1] == "UNKNOWN")
        {
            // Spec 2.1: everything after UNKNOWN up to CRLF is ignored.
            return new ProxyParseResult(ProxyParseStatus.Complete, new ProxyHeader(1, ProxyCommand.Unknown, null, null, length), length, null);
        }

        if (parts.Length != 6)
        {
            return ProxyParseResult.Bad($"PROXY v1 line needs 6 single-space-separated fields: \"{text}\"");
        }

        var family = parts[1] switch
        {
            "TCP4" => System.Net.Sockets.AddressFamily.InterNetwork,
            "TCP6" => System.Net.Sockets.AddressFamily.InterNetworkV6,
            _ => (System.Net.Sockets.AddressFamily?)null,
        };
        if (family is null)
        {
            return ProxyParseResult.Bad($"PROXY v1 protocol \"{parts[1]}\" is not TCP4, TCP6 or UNKNOWN");
        }

        if (!TryAddress(parts[2], family.Value, out var source) || !TryAddress(parts[3], family.Value, out var destination))
        {
            return ProxyParseResult.Bad($"PROXY v1 addresses are not {parts[1]} addresses: \"{parts[2]}\" \"{parts[3]}\"");
        }

        if (!TryPort(parts[4], out var sourcePort) || !TryPort(parts[5], out var destinationPort))
        {
            return ProxyParseResult.Bad($"PROXY v1 ports must be decimal 0-65535 without leading zeros: \"{parts[4]}\" \"{parts[5]}\"");
        }

        var header = new ProxyHeader(1, ProxyCommand.Proxy, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), length);
        return new ProxyParseResult(ProxyParseStatus.Complete, header, length, null);
    }

    private static ProxyParseResult ParseV2(ReadOnlySpan<byte> input)
    {
        if (input.Length < V2FixedLength)
        {
            return ProxyParseResult.More(V2FixedLength);
        }

        var versionCommand = input[12];
        if (versionCommand >> 4 != 2)
        {
            return ProxyParseResult.Bad($"PROXY v2 signature with version {versionCommand >> 4}, not 2");
        }

        var command = (versionCommand & 0x0F) switch
        {
            0 => ProxyCommand.Local,
            1 => ProxyCommand.Proxy,
            _ => (ProxyCommand?)null,
        };
        if (command is null)
        {
            return ProxyParseResult.Bad($"PROXY v2 command {versionCommand & 0x0F} is not LOCAL (0) or PROXY (1)");
        }

        var familyProtocol = input[13];
        var addressLength = BinaryPrimitives.ReadUInt16BigEndian(input[14..16]);
        var total = V2FixedLength + addressLength;
        if (input.Length < total)
        {
            return ProxyParseResult.More(total);
        }

        var block = input[V2FixedLength..total];
        if (command == ProxyCommand.Local)
        {
            // Spec 2.2: a LOCAL receiver ignores the address block; still check the TLVs are well formed.
            return Complete(new ProxyHeader(2, ProxyCommand.Local, null, null, total), block, AddressBlockLength(familyProtocol >> 4) ?? 0);
        }

        var protocol = familyProtocol & 0x0F;
        if (protocol is not (0 or 1))
        {
            return ProxyParseResult.Bad($"PROXY v2 transport {protocol} is not STREAM: SMTP runs over TCP");
        }

        switch (familyProtocol >> 4)
        {
            case 0:
                return Complete(new ProxyHeader(2, ProxyCommand.Unknown, null, null, total), block, 0);
            case 1 when protocol == 1:
                if (block.Length < 12)
                {
                    return ProxyParseResult.Bad($"PROXY v2 TCP4 needs a 12-byte address block, length says {block.Length}");
                }

                return Complete(new ProxyHeader(2, ProxyCommand.Proxy, new IPEndPoint(new IPAddress(block[..4]), Port(block[8..])), new IPEndPoint(new IPAddress(block[4..8]), Port(block[10..])), total), block, 12);
            case 2 when protocol == 1:
                if (block.Length < 36)
                {
                    return ProxyParseResult.Bad($"PROXY v2 TCP6 needs a 36-byte address block, length says {block.Length}");
                }

                return Complete(new ProxyHeader(2, ProxyCommand.Proxy, new IPEndPoint(new IPAddress(block[..16]), Port(block[32..])), new IPEndPoint(new IPAddress(block[16..32]), Port(block[34..])), total), block, 36);
            case 3:
                return ProxyParseResult.Bad("PROXY v2 AF_UNIX addresses cannot name an SMTP client's IP address");
            default:
                return ProxyParseResult.Bad($"PROXY v2 address family {familyProtocol >> 4} with transport {protocol} is not TCP over IPv4 or IPv6");
        }
    }

    private static ProxyParseResult Complete(ProxyHeader header, ReadOnlySpan<byte> block, int addressLength)
    {
        if (addressLength > block.Length)
        {
            addressLength = block.Length;
        }

        // TLVs (spec 2.2.7): type, 16-bit length, value; they must fill the rest of the block exactly.
        var types = new List<byte>();
        var tlvs = block[addressLength..];
        while (!tlvs.IsEmpty)
        {
            if (tlvs.Length < 3)
            {
                return ProxyParseResult.Bad($"PROXY v2 TLV area ends with {tlvs.Length} stray byte(s)");
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(tlvs[1..3]);
            if (3 + length > tlvs.Length)
            {
                return ProxyParseResult.Bad($"PROXY v2 TLV 0x{tlvs[0]:X2} claims {length} bytes, {tlvs.Length - 3} remain");
            }

            types.Add(tlvs[0]);
            tlvs = tlvs[(3 + length)..];
        }

        return new ProxyParseResult(ProxyParseStatus.Complete, header with { TlvTypes = types }, header.Length, null);
    }

    private static int? AddressBlockLength(int family) => family switch
    {
        1 => 12,
        2 => 36,
        3 => 216,
        _ => null,
    };

    private static int Port(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt16BigEndian(bytes);

    private static bool TryAddress(string text, System.Net.Sockets.AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        if (family == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            // Dotted quad only: IPAddress.TryParse also takes "1", "0x7f.1" and other forms HAProxy never sends.
            var octets = text.Split('.');
            if (octets.Length != 4 || octets.Any(o => o.Length is 0 or > 3 || !o.All(char.IsAsciiDigit) || (o.Length > 1 && o[0] == '0') || int.Parse(o, CultureInfo.InvariantCulture) > 255))
            {
                return false;
            }
        }
        else if (!text.Contains(':') || text.Contains('%') || text.Contains('['))
        {
            return false;
        }

        return IPAddress.TryParse(text, out address!) && address.AddressFamily == family;
    }

    private static bool TryPort(string text, out int port)
    {
        port = 0;
        return text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0')
            && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;
    }

    private static bool IsPrefixOf(ReadOnlySpan<byte> start, ReadOnlySpan<byte> signature) =>
        start.Length >= signature.Length ? start.StartsWith(signature) : signature.StartsWith(start);

    private static string Show(ReadOnlySpan<byte> bytes) => "\"" + SmtpLens.Protocol.AsciiText.Escape(bytes) + "\"";
}
