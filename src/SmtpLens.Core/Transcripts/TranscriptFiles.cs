using System.Text;
using SmtpLens.IO;

namespace SmtpLens.Transcripts;

/// <summary>How the text transcript formats open their files.</summary>
internal static class TranscriptFiles
{
    /// <summary>A UTF-8 (no BOM) writer that reaches the file in large writes.</summary>
    /// <remarks>The writer's own buffer is the only one: a small StreamWriter buffer over a FileStream's
    /// 4 KiB buffer meant a write(2) every few SMTP lines under load.</remarks>
    public static StreamWriter CreateWriter(string path, UnixFileMode mode = PrivateFiles.OwnerOnly) =>
        new(PrivateFiles.Open(path, FileMode.CreateNew, mode, bufferSize: 0), new UTF8Encoding(false), bufferSize: 16 * 1024);
}
