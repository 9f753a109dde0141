using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

[UnsupportedOSPlatform("windows")]
public sealed partial class NssKeyLogTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "smtplens-keylog-" + Guid.NewGuid().ToString("N") + ".txt");

    public void Dispose() => File.Delete(_path);

    /// <summary>The NSS key log format Wireshark reads for TLS 1.2: 32-byte client random, 48-byte master secret.</summary>
    [GeneratedRegex("^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$")]
    private static partial Regex ClientRandomLine();

    [Fact]
    public void Write_Secrets_GivesClientRandomLinesWiresharkReads()
    {
        var random = Enumerable.Range(0, 32).Select(i => (byte)(0xa0 + i)).ToArray();
        var secret = Enumerable.Range(0, 48).Select(i => (byte)i).ToArray();

        using (var log = new NssKeyLog(_path))
        {
            log.Write("upstream", "s-1", "CLIENT_RANDOM", random, secret);
        }

        var lines = File.ReadAllLines(_path);
        Assert.Equal(["# s-1 upstream leg", "CLIENT_RANDOM " + Convert.ToHexStringLower(random) + " " + Convert.ToHexStringLower(secret)], lines);
        Assert.Matches(ClientRandomLine(), lines[1]);
    }

    [Fact]
    public void Create_NewFile_IsReadableOnlyByTheOwner()
    {
        using var log = new NssKeyLog(_path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
        Assert.Equal(_path, log.Path);
    }

    [Fact]
    public void Write_TwoLogsOnOneFile_AppendsAndFlushesEachLine()
    {
        // AutoFlush: tshark may read the file while SmtpLens runs, so nothing may sit in a buffer.
        using (var first = new NssKeyLog(_path))
        {
            first.Write("client", "s-1", "CLIENT_RANDOM", new byte[32], new byte[48]);
            Assert.Equal(2, ReadShared().Length);
        }

        using (var second = new NssKeyLog(_path))
        {
            second.Write("upstream", "s-2", "CLIENT_RANDOM", new byte[32], new byte[48]);
        }

        var lines = File.ReadAllLines(_path);
        Assert.Equal(4, lines.Length);
        Assert.Equal("# s-2 upstream leg", lines[2]);
        Assert.All(lines.Where(l => !l.StartsWith('#')), l => Assert.Matches(ClientRandomLine(), l));
    }

    private string[] ReadShared()
    {
        using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
