using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmtpLens.Net;

/// <summary>Builds the PROXY header SmtpLens sends upstream (to a Postfix with smtpd_upstream_proxy_protocol, or HAProxy).</summary>
internal static class ProxyHeaderWriter
{
    public static byte[] Write(int version, IPEndPoint source, IPEndPoint destination) =>
        version == 1 ? WriteV1(source, destination) : WriteV2(source, destination);

    public static byte[] WriteV1(IPEndPoint source, IPEndPoint destination)
    {
        var (src, dst) = SameFamily(source, destination);
        var protocol = src.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        return Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"PROXY {protocol} {src.Address} {dst.Address} {src.Port} {dst.Port}\r\n"));
    }

    public static byte[] WriteV2(IPEndPoint source, IPEndPoint destination)
    {
        var (src, dst) = SameFamily(source, destination);
        var v4 = src.AddressFamily == AddressFamily.InterNetwork;
        var addressLength = v4 ? 12 : 36;
        var header = new byte[ProxyHeaderParser.V2FixedLength + addressLength];
        ProxyHeaderParser.V2Signature.CopyTo(header);
        header[12] = 0x21; // version 2, PROXY
        header[13] = (byte)(v4 ? 0x11 : 0x21); // AF_INET or AF_INET6, STREAM
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)addressLength);
        var block = header.AsSpan(ProxyHeaderParser.V2FixedLength);
        var size = v4 ? 4 : 16;
        src.Address.TryWriteBytes(block, out _);
        dst.Address.TryWriteBytes(block[size..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(block[(2 * size)..], (ushort)src.Port);
        BinaryPrimitives.WriteUInt16BigEndian(block[(2 * size + 2)..], (ushort)dst.Port);
        return header;
    }

    /// <summary>Both ends in one family: v4-mapped addresses from dual-mode sockets become IPv4, a mixed pair IPv6.</summary>
    internal static (IPEndPoint Source, IPEndPoint Destination) SameFamily(IPEndPoint source, IPEndPoint destination)
    {
        var src = Unmap(source);
        var dst = Unmap(destination);
        if (src.AddressFamily == dst.AddressFamily)
        {
            return (src, dst);
        }

        return (new IPEndPoint(src.Address.MapToIPv6(), src.Port), new IPEndPoint(dst.Address.MapToIPv6(), dst.Port));
    }

    internal static IPEndPoint Unmap(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
}
