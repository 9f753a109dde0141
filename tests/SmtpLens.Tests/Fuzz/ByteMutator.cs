using System.Buffers.Binary;
using System.Text;

namespace SmtpLens.Tests.Fuzz;

/// <summary>Structure-aware mutations of valid inputs: what a coverage-guided fuzzer would try first,
/// without the instrumentation. Length fields and ASCII numbers get the values parsers get wrong.</summary>
internal sealed class ByteMutator(Random random, IReadOnlyList<byte[]> dictionary, int maxLength)
{
    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7f, 0x80, 0xff, (byte)'\r', (byte)'\n', (byte)'.', (byte)' ', (byte)':', (byte)'-', 0xc0];

    private static readonly string[] InterestingNumbers = ["0", "1", "-1", "65535", "65536", "4294967296", "99999999999999", "1099511627777", "00000000000001"];

    private readonly Random _random = random;

    /// <summary>One to four stacked mutations of <paramref name="input"/>, spliced with <paramref name="other"/> at times.</summary>
    public byte[] Mutate(byte[] input, byte[] other)
    {
        var data = new List<byte>(input);
        var rounds = 1 + _random.Next(4);
        for (var i = 0; i < rounds; i++)
        {
            MutateOnce(data, other);
        }

        if (data.Count > maxLength)
        {
            data.RemoveRange(maxLength, data.Count - maxLength);
        }

        return [.. data];
    }

    private void MutateOnce(List<byte> data, byte[] other)
    {
        switch (_random.Next(10))
        {
            case 0 when data.Count > 0:
                var bit = _random.Next(data.Count * 8);
                data[bit / 8] ^= (byte)(1 << (bit % 8));
                break;
            case 1 when data.Count > 0:
                data[_random.Next(data.Count)] = InterestingBytes[_random.Next(InterestingBytes.Length)];
                break;
            case 2 when data.Count > 0:
                Truncate(data);
                break;
            case 3 when data.Count > 0:
                var start = _random.Next(data.Count);
                data.RemoveRange(start, _random.Next(Math.Min(16, data.Count - start) + 1));
                break;
            case 4:
                Duplicate(data);
                break;
            case 5 when data.Count > 0:
                CorruptLengthField(data);
                break;
            case 6:
                CorruptNumber(data);
                break;
            case 7:
                // Splice: the front of this input, the back of another.
                var cut = _random.Next(data.Count + 1);
                var from = _random.Next(other.Length + 1);
                data.RemoveRange(cut, data.Count - cut);
                data.AddRange(other.AsSpan(from).ToArray());
                break;
            case 8 when dictionary.Count > 0:
                data.InsertRange(_random.Next(data.Count + 1), dictionary[_random.Next(dictionary.Count)]);
                break;
            default:
                var noise = new byte[1 + _random.Next(8)];
                _random.NextBytes(noise);
                data.InsertRange(_random.Next(data.Count + 1), noise);
                break;
        }
    }

    private void Truncate(List<byte> data)
    {
        var keep = _random.Next(data.Count);
        data.RemoveRange(keep, data.Count - keep);
    }

    /// <summary>Repeats a slice, sometimes many times: long lines and oversized vectors come from here.</summary>
    private void Duplicate(List<byte> data)
    {
        if (data.Count == 0)
        {
            data.Add(InterestingBytes[_random.Next(InterestingBytes.Length)]);
            return;
        }

        var start = _random.Next(data.Count);
        var slice = data.GetRange(start, 1 + _random.Next(Math.Min(32, data.Count - start)));
        var times = _random.Next(8) == 0 ? _random.Next(16, 512) : 1 + _random.Next(3);
        for (var i = 0; i < times && data.Count + slice.Count <= maxLength; i++)
        {
            data.InsertRange(start, slice);
        }
    }

    /// <summary>Overwrites 1, 2 or 3 bytes big-endian with a length near a boundary, as TLS, DNS and PROXY v2 use.</summary>
    private void CorruptLengthField(List<byte> data)
    {
        var width = 1 + _random.Next(3);
        var at = _random.Next(data.Count);
        var rest = data.Count - at;
        var value = _random.Next(8) switch
        {
            0 => 0,
            1 => 1,
            2 => rest - width - 1,
            3 => rest - width,
            4 => rest - width + 1,
            5 => (1 << (8 * width)) - 1,
            6 => 1 << ((8 * width) - 1),
            _ => _random.Next(1 << Math.Min(8 * width, 24)),
        };
        Span<byte> field = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(field, value);
        for (var i = 0; i < width && at + i < data.Count; i++)
        {
            data[at + i] = field[4 - width + i];
        }
    }

    /// <summary>Replaces a run of ASCII digits (a BDAT size, a port, an address octet) with an awkward number.</summary>
    private void CorruptNumber(List<byte> data)
    {
        var digits = Enumerable.Range(0, data.Count).Where(i => data[i] is >= (byte)'0' and <= (byte)'9').ToList();
        var number = Encoding.ASCII.GetBytes(InterestingNumbers[_random.Next(InterestingNumbers.Length)]);
        if (digits.Count == 0)
        {
            data.InsertRange(_random.Next(data.Count + 1), number);
            return;
        }

        var start = digits[_random.Next(digits.Count)];
        var end = start;
        while (end < data.Count && data[end] is >= (byte)'0' and <= (byte)'9')
        {
            end++;
        }

        data.RemoveRange(start, end - start);
        data.InsertRange(start, number);
    }
}
