using SmtpLens.IO;

namespace SmtpLens.Transcripts;

/// <summary>What a session writes and where.</summary>
internal sealed record TranscriptOptions
{
    /// <summary>Directory for per-session files; null writes none (logs and summaries still happen).</summary>
    public string? Directory { get; init; }

    /// <summary>AUTH secrets are replaced in every format unless this is false (<c>--no-redact</c>).</summary>
    public bool Redact { get; init; } = true;

    /// <summary>Write each message's content to <c>&lt;session&gt;-&lt;n&gt;.eml</c> (<c>--capture-messages</c>).</summary>
    public bool CaptureMessages { get; init; }

    /// <summary>Named in every JSON record so transcripts merged from several instances stay unambiguous.</summary>
    public string Instance { get; init; } = Environment.MachineName;

    /// <summary>Mode of transcript and captured-message files (<c>--transcript-mode</c>); directories SmtpLens creates get
    /// the matching search bits (0600 files, 0700 directories). They hold decrypted mail, so owner-only by default.</summary>
    public UnixFileMode FileMode { get; init; } = PrivateFiles.OwnerOnly;

    /// <summary>Events a session may have queued for its writer before its relay waits for the writer to catch up.</summary>
    public int QueueCapacity { get; init; } = 4096;

    /// <summary>How long the writer gathers events before it writes and flushes them.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest header block kept in a message summary.</summary>
    public int MaxHeaderBytes { get; init; } = 64 * 1024;
}
