namespace SmtpLens.Protocol;

/// <summary>The commands whose replies change what the relay expects next.</summary>
internal enum SmtpVerb
{
    Unknown,
    Helo,
    Ehlo,
    Lhlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Auth,
    Etrn,
    Xclient,
    Xforward,
}
