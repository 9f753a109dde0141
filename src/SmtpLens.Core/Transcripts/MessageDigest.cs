using System.Security.Cryptography;
using SmtpLens.Protocol;

namespace SmtpLens.Transcripts;

/// <summary>Summarizes one message as it streams past: size, SHA-256 and the header block.</summary>
/// <remarks>Content is never held whole; only the header block, up to a cap, is kept.</remarks>
internal sealed class MessageDigest : IMessageContentSink, IDisposable
{
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly MemoryStream _headers = new();
    private readonly int _maxHeaderBytes;
    private readonly Stream? _capture;
    private bool _headersDone;
    // Starts as if after a line end, so a message that opens with a blank line has an empty header block.
    private int _blankScan = 2;

    public MessageDigest(int maxHeaderBytes, Stream? capture)
    {
        _maxHeaderBytes = maxHeaderBytes;
        _capture = capture;
    }

    public long Size { get; private set; }

    public bool HeadersTruncated { get; private set; }

    public void Write(ReadOnlySpan<byte> content)
    {
        if (content.IsEmpty)
        {
            return;
        }

        Size += content.Length;
        _sha.AppendData(content);
        _capture?.Write(content);
        if (!_headersDone)
        {
            CollectHeaders(content);
        }
    }

    private void CollectHeaders(ReadOnlySpan<byte> content)
    {
        // Scans byte by byte but copies in one piece: a WriteByte per header byte showed in profiles.
        var room = _maxHeaderBytes - (int)_headers.Length;
        for (var i = 0; i < content.Length; i++)
        {
            if (i >= room)
            {
                _headers.Write(content[..i]);
                HeadersTruncated = true;
                _headersDone = true;
                return;
            }

            // The header block ends at the first empty line (CRLF CRLF, or LF LF from sloppy clients).
            _blankScan = (_blankScan, content[i]) switch
            {
                (0, (byte)'\r') or (2, (byte)'\r') => _blankScan + 1,
                (1, (byte)'\n') or (0, (byte)'\n') => 2,
                (2, (byte)'\n') or (3, (byte)'\n') => 4,
                _ => 0,
            };

            if (_blankScan == 4)
            {
                _headers.Write(content[..(i + 1)]);
                _headersDone = true;
                return;
            }
        }

        _headers.Write(content);
    }

    /// <summary>The header block as text lines joined by LF, each escaped where it is not clean text.</summary>
    public string Headers
    {
        get
        {
            var lines = new List<string>();
            var raw = _headers.GetBuffer().AsSpan(0, (int)_headers.Length);
            while (!raw.IsEmpty)
            {
                var lf = raw.IndexOf((byte)'\n');
                var line = LineFramer.TrimTerminator(lf < 0 ? raw : raw[..(lf + 1)]);
                if (!line.IsEmpty)
                {
                    lines.Add(AsciiText.Escape(line));
                }

                raw = lf < 0 ? [] : raw[(lf + 1)..];
            }

            return string.Join("\n", lines);
        }
    }

    public string Finish()
    {
        _capture?.Flush();
        return Convert.ToHexStringLower(_sha.GetHashAndReset());
    }

    public void Dispose()
    {
        _sha.Dispose();
        _headers.Dispose();
        _capture?.Dispose();
    }
}
