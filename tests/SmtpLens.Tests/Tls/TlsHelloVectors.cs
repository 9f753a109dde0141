using System.Buffers.Binary;
using System.Net.Security;
using Org.BouncyCastle.Tls;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

/// <summary>Real ClientHellos without a network: what BouncyCastle and SslStream (OpenSSL) actually send,
/// plus one hand-built Chrome-style hello full of GREASE values.</summary>
internal static class TlsHelloVectors
{
    public const string ServerName = "mx.example.test";

    private static readonly Lazy<byte[]> Bouncy = new(() => BouncyCastleClientHello(TlsPolicy.Default.CappedAt(0x0303)));

    /// <summary>One TLS 1.2 ClientHello record from SmtpLens's own upstream client (--tls-max-version 1.2, no mirror).</summary>
    public static byte[] BouncyCastleRecord => Bouncy.Value;

    /// <summary>One TLS 1.3-capable ClientHello record from SslStream, captured afresh on each call.</summary>
    public static Task<byte[]> SslStreamRecordAsync() => SslStreamClientHelloAsync();

    /// <summary>Hand-built (see the layout below); every GREASE position Chrome uses carries a GREASE value.</summary>
    public static readonly byte[] GreaseRecord = Convert.FromHexString(string.Concat(
        "160301" + "00e6",                           // handshake record, TLS 1.0 record version, 230 bytes
        "01" + "0000e2",                             // ClientHello, 226 bytes
        "0303",                                      // legacy_version TLS 1.2
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", // random
        "20" + "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", // 32-byte session id
        "000a" + "5a5a" + "1301" + "c02f" + "cca8" + "00ff", // GREASE, AES128-GCM (1.3), ECDHE-RSA-AES128-GCM, ChaCha, SCSV
        "01" + "00",                                 // compression: null only
        "008f",                                      // 143 bytes of extensions
        "0a0a" + "0000",                             // GREASE extension, empty
        "0000" + "0014" + "0012" + "00" + "000f" + "6d782e6578616d706c652e74657374", // server_name mx.example.test
        "0017" + "0000",                             // extended_master_secret
        "ff01" + "0001" + "00",                      // renegotiation_info, empty
        "000a" + "000a" + "0008" + "2a2a" + "001d" + "0017" + "0018", // supported_groups: GREASE, x25519, P-256, P-384
        "000b" + "0002" + "01" + "00",               // ec_point_formats: uncompressed
        "000d" + "0008" + "0006" + "0403" + "0804" + "0401", // signature_algorithms
        "0010" + "0007" + "0005" + "04" + "736d7470", // ALPN "smtp"
        "002b" + "0007" + "06" + "3a3a" + "0304" + "0303", // supported_versions: GREASE, 1.3, 1.2
        "0033" + "002b" + "0029" + "1a1a" + "0001" + "00" + "001d" + "0020" + "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f", // key_share
        "fafa" + "0001" + "00"));                    // trailing GREASE extension, as Chrome sends it

    /// <summary>JA3 of <see cref="GreaseRecord"/>, written out from Salesforce's definition (decimal, GREASE dropped).</summary>
    public const string GreaseJa3 = "771,4865-49199-52392-255,0-23-65281-10-11-13-16-43-51,29-23-24,0";

    /// <summary>MD5 of <see cref="GreaseJa3"/>, computed outside this code base (md5sum).</summary>
    public const string GreaseJa3Hash = "520a909882fa4176d84141eda22e9d78";

    public static byte[] BouncyCastleClientHello(TlsPolicy policy, string? serverName = ServerName)
    {
        // Non-blocking mode: Connect queues the ClientHello as output and returns without any transport.
        var protocol = new TlsClientProtocol();
        var events = new TlsPeerEvents(new TlsLegRecord("t", "client"), TimeProvider.System);
        protocol.Connect(new UpstreamTlsClient(events.CreateCrypto(), policy, serverName, null, _ => { }, events));
        var output = new byte[protocol.GetAvailableOutputBytes()];
        protocol.ReadOutput(output, 0, output.Length);
        return output;
    }

    private static async Task<byte[]> SslStreamClientHelloAsync()
    {
        var transport = new CaptureStream();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ssl = new SslStream(transport, leaveInnerStreamOpen: true);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = ServerName,
            ApplicationProtocols = [new SslApplicationProtocol("smtp")],
            RemoteCertificateValidationCallback = (_, _, _, _) => false,
        };
        var handshake = ssl.AuthenticateAsClientAsync(options, cancel.Token);
        var hello = await transport.FirstWrite.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        try
        {
            await handshake;
        }
        catch (Exception)
        {
            // Expected: the "server" never answers, so the handshake ends with our cancellation.
        }

        ssl.Dispose();
        return hello;
    }

    /// <summary>Re-frames one record's handshake bytes into records carrying at most <paramref name="fragment"/> bytes each.</summary>
    public static byte[] Reframe(byte[] record, int fragment)
    {
        var payload = record.AsSpan(5);
        var output = new List<byte>();
        for (var offset = 0; offset < payload.Length; offset += fragment)
        {
            var size = Math.Min(fragment, payload.Length - offset);
            output.AddRange(record.AsSpan(0, 3).ToArray());
            output.Add((byte)(size >> 8));
            output.Add((byte)size);
            output.AddRange(payload.Slice(offset, size).ToArray());
        }

        return [.. output];
    }

    /// <summary>The handshake message inside a single-record ClientHello, as the scanner would give it.</summary>
    public static HandshakeMessage Message(byte[] record)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(3));
        Assert.Equal(record.Length, 5 + length);
        return new HandshakeMessage(record[5], record[9..], BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(1)));
    }

    /// <summary>A record of the given content type around <paramref name="fragment"/>.</summary>
    public static byte[] Record(byte type, params byte[] fragment) =>
        [type, 0x03, 0x03, (byte)(fragment.Length >> 8), (byte)fragment.Length, .. fragment];

    /// <summary>A handshake message: type, 24-bit length, body.</summary>
    public static byte[] Handshake(byte type, byte[] body) =>
        [type, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];

    /// <summary>The write side of a transport whose peer never answers: reads wait until cancelled.</summary>
    private sealed class CaptureStream : Stream
    {
        private readonly TaskCompletionSource<byte[]> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<byte[]> FirstWrite => _first.Task;

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _first.TrySetResult(buffer.ToArray());
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _first.TrySetResult(buffer.AsSpan(offset, count).ToArray());

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
