namespace SmtpLens.Transcripts;

/// <summary>One on-disk rendering of a session's events.</summary>
internal interface ITranscriptFormat : IDisposable
{
    void Write(TranscriptEvent e);

    void Flush();
}
