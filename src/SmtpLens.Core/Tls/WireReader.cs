using System.Buffers.Binary;

namespace SmtpLens.Tls;

/// <summary>Bounds-checked big-endian reads over a handshake body; any overrun is a malformed message.</summary>
internal ref struct WireReader(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly int Remaining => _rest.Length;

    public byte U8() => Take(1)[0];

    public int U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public int U24()
    {
        var b = Take(3);
        return (b[0] << 16) | (b[1] << 8) | b[2];
    }

    public ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _rest.Length)
        {
            throw new FormatException($"handshake field of {count} bytes overruns the {_rest.Length} bytes left");
        }

        var slice = _rest[..count];
        _rest = _rest[count..];
        return slice;
    }

    public ReadOnlySpan<byte> Vector8() => Take(U8());

    public ReadOnlySpan<byte> Vector16() => Take(U16());

    public ReadOnlySpan<byte> Vector24() => Take(U24());

    public static List<int> U16List(ReadOnlySpan<byte> data)
    {
        if (data.Length % 2 != 0)
        {
            throw new FormatException($"a list of 16-bit values has an odd length ({data.Length} bytes)");
        }

        var list = new List<int>(data.Length / 2);
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            list.Add(BinaryPrimitives.ReadUInt16BigEndian(data[i..]));
        }

        return list;
    }
}
