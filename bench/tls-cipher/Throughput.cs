using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Org.BouncyCastle.Tls.Crypto.Impl;

namespace SmtpLens.Bench.CipherThroughput;

/// <summary>Throughput by the wall clock, and per second of the process's CPU time (steadier on a busy machine).</summary>
internal readonly record struct Rate(double Wall, double Cpu);

/// <summary>Seals and opens records through a TlsAeadCipherImpl the way BouncyCastle's TlsAeadCipher does: a fresh
/// 12-byte nonce per record (static IV XOR sequence number) and the 13-byte TLS 1.2 additional data.</summary>
internal static class Throughput
{
    private const int TagLength = 16;

    /// <summary>MB/s of sealing over <paramref name="seconds"/>, after a short warm-up.</summary>
    public static Rate Seal(TlsAeadCipherImpl sealer, byte[] iv, int recordSize, double seconds)
    {
        var plaintext = new byte[recordSize];
        RandomNumberGenerator.Fill(plaintext);
        var output = new byte[recordSize + TagLength];

        // Sequence numbers never repeat, as in a real session.
        long seqNo = 0;
        return Measure(seconds, () => SealRecord(sealer, iv, seqNo++, plaintext, output), recordSize);
    }

    /// <summary>MB/s of opening, cycling through records sealed beforehand (sealing is not timed).</summary>
    public static Rate Open(TlsAeadCipherImpl sealer, TlsAeadCipherImpl opener, byte[] iv, int recordSize, double seconds)
    {
        var plaintext = new byte[recordSize];
        RandomNumberGenerator.Fill(plaintext);
        const int Distinct = 64;
        var records = new byte[Distinct][];
        for (var i = 0; i < Distinct; i++)
        {
            records[i] = new byte[recordSize + TagLength];
            SealRecord(sealer, iv, 1_000_000 + i, plaintext, records[i]);
        }

        var output = new byte[recordSize];
        long n = 0;
        return Measure(
            seconds,
            () =>
            {
                var i = (int)(n++ % Distinct);
                opener.Init(Nonce(iv, 1_000_000 + i), TagLength, null);
                var length = opener.DoFinal(AdditionalData(1_000_000 + i, recordSize), records[i], 0, records[i].Length, output, 0);
                return length == recordSize ? length : throw new InvalidOperationException("record did not open to its plaintext length");
            },
            recordSize);
    }

    private static int SealRecord(TlsAeadCipherImpl sealer, byte[] iv, long seqNo, byte[] plaintext, byte[] output)
    {
        sealer.Init(Nonce(iv, seqNo), TagLength, null);
        return sealer.DoFinal(AdditionalData(seqNo, plaintext.Length), plaintext, 0, plaintext.Length, output, 0);
    }

    private static byte[] Nonce(byte[] iv, long seqNo)
    {
        var nonce = (byte[])iv.Clone();
        Span<byte> seq = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(seq, seqNo);
        for (var i = 0; i < 8; i++)
        {
            nonce[4 + i] ^= seq[i];
        }

        return nonce;
    }

    private static byte[] AdditionalData(long seqNo, int length)
    {
        // seq_num(8) || type(1) = application_data || version(2) = TLS 1.2 || length(2)
        var aad = new byte[13];
        BinaryPrimitives.WriteInt64BigEndian(aad, seqNo);
        aad[8] = 23;
        aad[9] = 3;
        aad[10] = 3;
        BinaryPrimitives.WriteUInt16BigEndian(aad.AsSpan(11), (ushort)length);
        return aad;
    }

    private static Rate Measure(double seconds, Func<int> operation, int recordSize)
    {
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed.TotalSeconds < Math.Min(0.5, seconds / 4))
        {
            operation();
        }

        long records = 0;
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            for (var i = 0; i < 16; i++)
            {
                operation();
            }

            records += 16;
        }

        var wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        var megabytes = records * (double)recordSize / 1e6;
        return new Rate(megabytes / wall, megabytes / cpu);
    }
}
