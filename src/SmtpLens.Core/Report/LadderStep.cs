namespace SmtpLens.Report;

/// <summary>Where a ladder step is drawn: an arrow between lanes, or a mark on the SmtpLens lane.</summary>
internal enum LadderStepKind
{
    /// <summary>A client command relayed to the upstream.</summary>
    Command,

    /// <summary>An upstream reply relayed to the client (a multi-line reply is one step).</summary>
    Reply,

    /// <summary>Message content, collapsed to size and SHA-256.</summary>
    Message,

    /// <summary>A reply SmtpLens sent itself (421 on a dead upstream).</summary>
    Answered,

    /// <summary>Something a <c>--simulate</c> rule changed or answered.</summary>
    Simulated,

    /// <summary>A TLS handshake on one leg, drawn as a block.</summary>
    Handshake,

    /// <summary>A TLS alert on one leg.</summary>
    Alert,

    /// <summary>A finding raised at this point.</summary>
    Finding,

    /// <summary>SmtpLens's own events: connects, STARTTLS switch, anomalies, limits, errors, the end.</summary>
    Note,
}

/// <summary>One row of a session's ladder diagram.</summary>
/// <param name="Seq">The transcript sequence number of the step's first event.</param>
/// <param name="OffsetMs">Milliseconds since the session's first event.</param>
/// <param name="Leg">"client" or "upstream" for handshakes and alerts, else null.</param>
/// <param name="Group">Pipelined commands share a group number above zero; zero is not pipelined.</param>
/// <param name="Detail">Continuation lines of a multi-line reply, or the handshake's particulars.</param>
internal sealed record LadderStep(long Seq, long OffsetMs, LadderStepKind Kind, string Text, string? Leg, int Group, IReadOnlyList<string> Detail)
{
    public static string KindName(LadderStepKind kind) => kind switch
    {
        LadderStepKind.Command => "cmd",
        LadderStepKind.Reply => "reply",
        LadderStepKind.Message => "msg",
        LadderStepKind.Answered => "answer",
        LadderStepKind.Simulated => "sim",
        LadderStepKind.Handshake => "tls",
        LadderStepKind.Alert => "alert",
        LadderStepKind.Finding => "finding",
        _ => "note",
    };
}
