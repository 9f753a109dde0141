using System.Buffers.Binary;
using System.Net;

namespace SmtpLens.Net;

/// <summary>Decodes the Linux sockaddr_in / sockaddr_in6 that getsockopt(SO_ORIGINAL_DST) fills in.</summary>
internal static class SockAddr
{
    public const int InetLength = 16;
    public const int Inet6Length = 28;
    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;

    /// <summary>sin_family is host byte order (little-endian on every Linux .NET runs on); port and address are network order.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out IPEndPoint? endPoint)
    {
        endPoint = null;
        if (bytes.Length < 2)
        {
            return false;
        }

        var family = BinaryPrimitives.ReadUInt16LittleEndian(bytes);
        switch (family)
        {
            case AfInet when bytes.Length >= 8:
                endPoint = new IPEndPoint(new IPAddress(bytes[4..8]), BinaryPrimitives.ReadUInt16BigEndian(bytes[2..4]));
                return true;
            case AfInet6 when bytes.Length >= Inet6Length:
                // sin6_flowinfo at 4..8, address at 8..24, sin6_scope_id at 24..28 (host order).
                var scope = BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..28]);
                endPoint = new IPEndPoint(new IPAddress(bytes[8..24], scope), BinaryPrimitives.ReadUInt16BigEndian(bytes[2..4]));
                return true;
            default:
                return false;
        }
    }
}
