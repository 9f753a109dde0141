using SmtpLens.IO;

namespace SmtpLens.Tls;

/// <summary>Writes NSS key-log lines (CLIENT_RANDOM up to TLS 1.2; the five TLS 1.3 traffic and exporter secrets) so Wireshark or tshark can decrypt a capture of either leg.</summary>
/// <remarks>The file holds session secrets, so it is created 0600 like a private key.</remarks>
internal sealed class NssKeyLog : IDisposable
{
    private readonly Lock _gate = new();
    private readonly StreamWriter _writer;

    public NssKeyLog(string path)
    {
        _writer = new StreamWriter(PrivateFiles.Open(path, FileMode.Append)) { AutoFlush = true };

        // An existing file keeps its mode on open; secrets must not go into a world-readable one.
        PrivateFiles.Restrict(path);
        Path = path;
    }

    public string Path { get; }

    /// <param name="label">CLIENT_RANDOM, CLIENT_HANDSHAKE_TRAFFIC_SECRET, ..., EXPORTER_SECRET.</param>
    public void Write(string leg, string session, string label, byte[] clientRandom, byte[] secret)
    {
        lock (_gate)
        {
            _writer.WriteLine($"# {session} {leg} leg");
            _writer.WriteLine($"{label} {Convert.ToHexStringLower(clientRandom)} {Convert.ToHexStringLower(secret)}");
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _writer.Dispose();
        }
    }
}
