using SmtpLens.Protocol;

namespace SmtpLens.StateMachine;

/// <summary>One mail transaction, MAIL FROM to the final reply, for the session summary.</summary>
internal sealed class Transaction(int number, string mailFrom)
{
    public int Number { get; } = number;

    public string MailFrom { get; } = mailFrom;

    public int RecipientsAccepted { get; set; }

    public int RecipientsRejected { get; set; }

    /// <summary>DATA or BDAT, once content started.</summary>
    public string? Method { get; set; }

    public long Size { get; set; }

    public string? Sha256 { get; set; }

    /// <summary>The reply that decided the transaction: end of data, last chunk, or an earlier refusal.</summary>
    public SmtpReply? FinalReply { get; set; }

    /// <summary>Why the transaction ended without a final reply (RSET, closed, timed out).</summary>
    public string? Abandoned { get; set; }

    public bool Accepted => FinalReply is { Class: 2 };

    public string Describe()
    {
        var outcome = FinalReply is not null
            ? FinalReply.RawLines[^1]
            : Abandoned ?? "no final reply";
        var size = Method is null ? string.Empty : $" {Method} {Size} bytes";
        return $"transaction {Number}: MAIL FROM:{MailFrom} rcpt={RecipientsAccepted}{(RecipientsRejected > 0 ? $" (+{RecipientsRejected} refused)" : string.Empty)}{size} -> {outcome}";
    }
}
