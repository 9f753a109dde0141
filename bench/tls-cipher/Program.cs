using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Tls;
using SmtpLens.Bench.CipherThroughput;
using SmtpLens.Tests.Tls;
using SmtpLens.Tls;

// Seal/open throughput of TLS 1.2 AES-GCM records: BouncyCastle's managed TlsAeadCipher against
// FrameworkAesGcmCipher (System.Security.Cryptography.AesGcm), one thread, 16 KiB records.
// Usage: dotnet run -c Release --project bench/tls-cipher [-- seconds-per-cell]
var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2.0;
const int RecordSize = 1 << 14;

Console.WriteLine($"{RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} CPUs");
Console.WriteLine($"AesGcm.IsSupported={AesGcm.IsSupported}, AES-NI={System.Runtime.Intrinsics.X86.Aes.IsSupported}, PCLMULQDQ={System.Runtime.Intrinsics.X86.Pclmulqdq.IsSupported}");
Console.WriteLine($"record {RecordSize} bytes, {seconds:0.#} s per cell, single thread; MB = 10^6 bytes");
Console.WriteLine("wall = MB per elapsed second; cpu = MB per second of process CPU time (GC included), which a loaded machine distorts less");
Console.WriteLine("relay = one record opened on one leg and sealed on the other");
Console.WriteLine();
Console.WriteLine($"{"cipher",-12} {"implementation",-22} {"seal wall",10} {"seal cpu",10} {"open wall",10} {"open cpu",10} {"relay wall",11} {"relay cpu",10}");

foreach (var (name, algorithm, prf) in new[]
{
    ("AES-128-GCM", EncryptionAlgorithm.AES_128_GCM, PrfAlgorithm.tls_prf_sha256),
    ("AES-256-GCM", EncryptionAlgorithm.AES_256_GCM, PrfAlgorithm.tls_prf_sha384),
})
{
    var (client, server) = KeyedTlsContext.Pair(new Random(), prf);
    var stock = new DefaultTlsCipherFactory();
    var implementations = new (string Name, TlsCipher Sealer, TlsCipher Opener)[]
    {
        ("BouncyCastle (managed)", stock.CreateCipher(client, algorithm, MacAlgorithm.cls_null), stock.CreateCipher(server, algorithm, MacAlgorithm.cls_null)),
        ("framework AesGcm", new FrameworkAesGcmCipher(client, algorithm == EncryptionAlgorithm.AES_128_GCM ? 16 : 32), new FrameworkAesGcmCipher(server, algorithm == EncryptionAlgorithm.AES_128_GCM ? 16 : 32)),
    };

    foreach (var (implementation, sealer, opener) in implementations)
    {
        var seal = Throughput.Seal(sealer, RecordSize, seconds);
        var open = Throughput.Open(sealer, opener, RecordSize, seconds);

        // A relayed byte is opened on one leg and sealed on the other: the two costs add.
        var relayWall = 1 / ((1 / seal.Wall) + (1 / open.Wall));
        var relayCpu = 1 / ((1 / seal.Cpu) + (1 / open.Cpu));
        Console.WriteLine($"{name,-12} {implementation,-22} {seal.Wall,10:0} {seal.Cpu,10:0} {open.Wall,10:0} {open.Cpu,10:0} {relayWall,11:0} {relayCpu,10:0}");
    }
}
