using System.Diagnostics;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Tls;

namespace SmtpLens.Bench.CipherThroughput;

/// <summary>Throughput by the wall clock, and per second of the process's CPU time (steadier on a busy machine).</summary>
internal readonly record struct Rate(double Wall, double Cpu);

internal static class Throughput
{
    /// <summary>MB/s of EncodePlaintext over <paramref name="seconds"/>, after a short warm-up.</summary>
    public static Rate Seal(TlsCipher cipher, int recordSize, double seconds)
    {
        var plaintext = new byte[recordSize];
        RandomNumberGenerator.Fill(plaintext);

        // Sequence numbers must not repeat: BouncyCastle's GCM refuses a reused nonce.
        long seqNo = 0;
        return Measure(seconds, () => cipher.EncodePlaintext(seqNo++, ContentType.application_data, plaintext, 0, recordSize).Length, recordSize);
    }

    /// <summary>MB/s of DecodeCiphertext, cycling through records sealed beforehand (sealing is not timed).</summary>
    public static Rate Open(TlsCipher sealer, TlsCipher opener, int recordSize, double seconds)
    {
        var plaintext = new byte[recordSize];
        RandomNumberGenerator.Fill(plaintext);
        const int Distinct = 64;
        var records = new byte[Distinct][];
        for (var i = 0; i < Distinct; i++)
        {
            records[i] = sealer.EncodePlaintext(1_000_000 + i, ContentType.application_data, plaintext, 0, recordSize);
        }

        long n = 0;
        return Measure(
            seconds,
            () =>
            {
                var i = (int)(n++ % Distinct);
                return opener.DecodeCiphertext(1_000_000 + i, ContentType.application_data, records[i], 0, records[i].Length).Length;
            },
            recordSize);
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
