using SmtpLens.IO;

namespace SmtpLens.Tls;

/// <summary>Writes NSS key-log lines (CLIENT_RANDOM) so Wireshark or tshark can decrypt a capture of either leg.</summary>
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

    public void Write(string leg, string session, byte[] clientRandom, byte[] masterSecret)
    {
        lock (_gate)
        {
            _writer.WriteLine($"# {session} {leg} leg");
            _writer.WriteLine($"CLIENT_RANDOM {Convert.ToHexStringLower(clientRandom)} {Convert.ToHexStringLower(masterSecret)}");
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
