using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Org.BouncyCastle.Tls.Crypto.Impl;
using SmtpLens.Bench.CipherThroughput;
using SmtpLens.Tls.Engine;

// Seal/open throughput of AEAD TLS records: BouncyCastle's managed AES-GCM / ChaCha20-Poly1305 against
// FrameworkAeadCipher (System.Security.Cryptography.AesGcm / ChaCha20Poly1305), one thread, 16 KiB records.
// Usage: dotnet run -c Release --project bench/tls-cipher [-- seconds-per-cell]
var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2.0;
const int RecordSize = 1 << 14;

Console.WriteLine($"{RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} CPUs");
Console.WriteLine($"AesGcm.IsSupported={AesGcm.IsSupported}, ChaCha20Poly1305.IsSupported={ChaCha20Poly1305.IsSupported}, AES-NI={System.Runtime.Intrinsics.X86.Aes.IsSupported}, PCLMULQDQ={System.Runtime.Intrinsics.X86.Pclmulqdq.IsSupported}");
Console.WriteLine($"record {RecordSize} bytes, {seconds:0.#} s per cell, single thread; MB = 10^6 bytes");
Console.WriteLine("wall = MB per elapsed second; cpu = MB per second of process CPU time (GC included), which a loaded machine distorts less");
Console.WriteLine("relay = one record opened on one leg and sealed on the other");
Console.WriteLine();
Console.WriteLine($"{"cipher",-18} {"implementation",-22} {"seal wall",10} {"seal cpu",10} {"open wall",10} {"open cpu",10} {"relay wall",11} {"relay cpu",10}");

foreach (var (name, keyLength, chaCha) in new[] { ("AES-128-GCM", 16, false), ("AES-256-GCM", 32, false), ("ChaCha20-Poly1305", 32, true) })
{
    var key = RandomNumberGenerator.GetBytes(keyLength);
    var iv = RandomNumberGenerator.GetBytes(12);
    var implementations = new List<(string Name, TlsAeadCipherImpl Sealer, TlsAeadCipherImpl Opener)>
    {
        ("BouncyCastle (managed)", new ManagedAeadCipher(true, chaCha), new ManagedAeadCipher(false, chaCha)),
    };
    if (FrameworkAeadCipher.IsSupported(chaCha))
    {
        implementations.Add(("framework", new FrameworkAeadCipher(true, chaCha), new FrameworkAeadCipher(false, chaCha)));
    }

    foreach (var (implementation, sealer, opener) in implementations)
    {
        sealer.SetKey(key, 0, key.Length);
        opener.SetKey(key, 0, key.Length);
        var seal = Throughput.Seal(sealer, iv, RecordSize, seconds);
        var open = Throughput.Open(sealer, opener, iv, RecordSize, seconds);

        // A relayed byte is opened on one leg and sealed on the other: the two costs add.
        var relayWall = 1 / ((1 / seal.Wall) + (1 / open.Wall));
        var relayCpu = 1 / ((1 / seal.Cpu) + (1 / open.Cpu));
        Console.WriteLine($"{name,-18} {implementation,-22} {seal.Wall,10:0} {seal.Cpu,10:0} {open.Wall,10:0} {open.Cpu,10:0} {relayWall,11:0} {relayCpu,10:0}");
    }
}
