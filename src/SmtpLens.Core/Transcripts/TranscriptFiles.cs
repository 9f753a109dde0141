using SmtpLens.IO;

namespace SmtpLens.Transcripts;

/// <summary>How the text transcript formats open their files.</summary>
internal static class TranscriptFiles
{
    /// <summary>A UTF-8 (no BOM) writer that reaches the file in large writes.</summary>
    /// <remarks>The writer's own buffer is the only one (pooled, held only between flushes): a small writer buffer
    /// over a FileStream's 4 KiB buffer meant a write(2) every few SMTP lines under load.</remarks>
    public static TextWriter CreateWriter(string path, UnixFileMode mode = PrivateFiles.OwnerOnly) =>
        new TranscriptTextWriter(PrivateFiles.Open(path, FileMode.CreateNew, mode, bufferSize: 0));
}
