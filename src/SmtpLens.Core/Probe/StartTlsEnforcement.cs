namespace SmtpLens.Probe;

/// <summary>Whether the server refuses mail in plaintext, from the VRFY that <c>--no-starttls</c> sends in place of
/// MAIL: "yes", "no", "unknown" or "not tested", with the reply that decided it.</summary>
internal sealed record StartTlsEnforcement(string Value, string Detail)
{
    public const string Yes = "yes";
    public const string No = "no";
    public const string Unknown = "unknown";
    public const string NotTested = "not tested";

    public string Line() => $"STARTTLS enforced: {Value} ({Detail})";

    public static StartTlsEnforcement Of(ProbeSession main, bool implicitTls)
    {
        if (implicitTls)
        {
            return new(NotTested, "implicit TLS: there is no plaintext phase to refuse");
        }

        if (main.TlsRequirementCheck is not { } reply)
        {
            return main.StartTlsAttempted || main.HelloReply is not null
                ? new(NotTested, "run with --no-starttls: the probe then sends VRFY before TLS, never MAIL")
                : new(NotTested, "the probe did not get as far as EHLO");
        }

        var last = reply.RawLines[^1];
        if (reply.Code == 530 || (reply.Class == 5 && (last.Contains("STARTTLS", StringComparison.OrdinalIgnoreCase) || last.Contains(" 5.7.0 ", StringComparison.Ordinal))))
        {
            // Postfix at smtpd_tls_security_level = encrypt: "530 5.7.0 Must issue a STARTTLS command first".
            return new(Yes, $"VRFY refused before TLS: {last}");
        }

        return reply.Class is 2 or 3
            ? new(No, $"VRFY answered in plaintext: {last}; MAIL was not tried, a server may still refuse it")
            : new(Unknown, $"VRFY refused for another reason: {last}; only MAIL would tell, and the probe never sends it");
    }
}
