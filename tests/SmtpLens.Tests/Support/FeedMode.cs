namespace SmtpLens.Tests.Support;

/// <summary>How the replay driver cuts each turn into reads, like MailKit's SmtpReplayStream modes.</summary>
public enum FeedMode
{
    /// <summary>All bytes of a turn in one read, one contiguous buffer.</summary>
    Whole,

    /// <summary>One LF-terminated line per read.</summary>
    Line,

    /// <summary>One byte per read; unconsumed bytes stay and the next byte is appended, as a PipeReader does.</summary>
    Byte,

    /// <summary>All bytes of a turn in one read, but as a sequence of many small segments (1, 2, 3, 5, 8, 13 bytes).</summary>
    Segmented,

    /// <summary>Reads of seeded random sizes (1 to 17 bytes); each read becomes its own segment behind the unconsumed ones.</summary>
    Chunked,
}
