using SmtpLens.Protocol;

namespace SmtpLens.StateMachine;

/// <summary>Where the client is in the RFC 5321 command sequence, as its own commands claim.</summary>
internal enum SessionPhase
{
    AwaitingGreeting,
    Greeted,
    Identified,
    MailGiven,
    RecipientsGiven,
    Chunking,
    Quitting,
}

/// <summary>The declarative table of which verbs are legal in which phase, and where each leads.</summary>
/// <remarks>The relay forwards illegal commands anyway (the upstream decides); the table only lets the
/// transcript say that the client broke sequence. The phase advances when a command is sent, not when it
/// is answered, because a pipelining client sends the whole group before any reply.</remarks>
internal static class SessionStateTable
{
    private static readonly SmtpVerb[] Anytime = [SmtpVerb.Noop, SmtpVerb.Rset, SmtpVerb.Quit, SmtpVerb.Help, SmtpVerb.Vrfy, SmtpVerb.Expn];

    private static readonly Dictionary<SessionPhase, HashSet<SmtpVerb>> Legal = new()
    {
        [SessionPhase.AwaitingGreeting] = [],
        [SessionPhase.Greeted] = [.. Anytime, SmtpVerb.Ehlo, SmtpVerb.Helo, SmtpVerb.Lhlo, SmtpVerb.Xclient],
        [SessionPhase.Identified] = [.. Anytime, SmtpVerb.Ehlo, SmtpVerb.Helo, SmtpVerb.Lhlo, SmtpVerb.Mail, SmtpVerb.StartTls, SmtpVerb.Auth, SmtpVerb.Etrn, SmtpVerb.Xclient, SmtpVerb.Xforward],
        [SessionPhase.MailGiven] = [.. Anytime, SmtpVerb.Rcpt],
        [SessionPhase.RecipientsGiven] = [.. Anytime, SmtpVerb.Rcpt, SmtpVerb.Data, SmtpVerb.Bdat],
        [SessionPhase.Chunking] = [SmtpVerb.Bdat, SmtpVerb.Rset, SmtpVerb.Quit, SmtpVerb.Noop],
        [SessionPhase.Quitting] = [],
    };

    public static bool IsLegal(SessionPhase phase, SmtpVerb verb) =>
        verb == SmtpVerb.Unknown || Legal[phase].Contains(verb);

    /// <summary>The phase after sending <paramref name="verb"/>, assuming the upstream accepts it.</summary>
    public static SessionPhase After(SessionPhase phase, SmtpVerb verb) => verb switch
    {
        SmtpVerb.Ehlo or SmtpVerb.Helo or SmtpVerb.Lhlo => phase == SessionPhase.AwaitingGreeting ? phase : SessionPhase.Identified,
        SmtpVerb.Rset when phase is SessionPhase.MailGiven or SessionPhase.RecipientsGiven or SessionPhase.Chunking => SessionPhase.Identified,
        SmtpVerb.Mail when phase == SessionPhase.Identified => SessionPhase.MailGiven,
        SmtpVerb.Rcpt when phase is SessionPhase.MailGiven or SessionPhase.RecipientsGiven => SessionPhase.RecipientsGiven,
        SmtpVerb.Bdat when phase is SessionPhase.RecipientsGiven or SessionPhase.Chunking => SessionPhase.Chunking,
        SmtpVerb.StartTls => SessionPhase.Greeted,
        SmtpVerb.Quit => SessionPhase.Quitting,
        _ => phase,
    };
}
