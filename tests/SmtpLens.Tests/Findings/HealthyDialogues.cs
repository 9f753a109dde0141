using SmtpLens.Tls;

namespace SmtpLens.Tests.Findings;

/// <summary>Healthy sessions as real servers write them, for the negative cases: none may raise a warning.</summary>
internal static class HealthyDialogues
{
    public const string PostfixBeforeTls = """
        S: 220 mx.example.org ESMTP Postfix (Debian/GNU)
        C: EHLO client.example.com
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-VRFY
        S: 250-ETRN
        S: 250-STARTTLS
        S: 250-ENHANCEDSTATUSCODES
        S: 250-8BITMIME
        S: 250-DSN
        S: 250-SMTPUTF8
        S: 250 CHUNKING
        C: STARTTLS
        S: 220 2.0.0 Ready to start TLS
        """;

    public const string PostfixInsideTls = """
        C: EHLO client.example.com
        S: 250-mx.example.org
        S: 250-PIPELINING
        S: 250-SIZE 10240000
        S: 250-VRFY
        S: 250-ETRN
        S: 250-ENHANCEDSTATUSCODES
        S: 250-8BITMIME
        S: 250-DSN
        S: 250-SMTPUTF8
        S: 250 CHUNKING
        C: MAIL FROM:<alice@example.com>
        S: 250 2.1.0 Ok
        C: RCPT TO:<bob@example.org>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Subject: over TLS
        C:
        C: ..a stuffed dot line
        C: .
        S: 250 2.0.0 Ok: queued as 4dQx1B2kZzz9
        C: QUIT
        S: 221 2.0.0 Bye
        S! close
        C! close
        """;

    /// <summary>Exchange 2019 on-premises, receive connector FQDN mail.contoso.com, STARTTLS then BDAT.</summary>
    public const string ExchangeBeforeTls = """
        S: 220 mail.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 17 Nov 2025 10:00:00 +0000
        C: EHLO mail.fabrikam.com
        S: 250-mail.contoso.com Hello [192.0.2.10]
        S: 250-SIZE 37748736
        S: 250-PIPELINING
        S: 250-DSN
        S: 250-ENHANCEDSTATUSCODES
        S: 250-STARTTLS
        S: 250-X-ANONYMOUSTLS
        S: 250-AUTH NTLM
        S: 250-X-EXPS GSSAPI NTLM
        S: 250-8BITMIME
        S: 250-BINARYMIME
        S: 250-CHUNKING
        S: 250 XRDST
        C: STARTTLS
        S: 220 2.0.0 SMTP server ready
        """;

    public const string ExchangeInsideTls = """
        C: EHLO mail.fabrikam.com
        S: 250-mail.contoso.com Hello [192.0.2.10]
        S: 250-SIZE 37748736
        S: 250-PIPELINING
        S: 250-DSN
        S: 250-ENHANCEDSTATUSCODES
        S: 250-AUTH NTLM LOGIN
        S: 250-X-EXPS GSSAPI NTLM
        S: 250-8BITMIME
        S: 250-BINARYMIME
        S: 250-CHUNKING
        S: 250 XRDST
        C: MAIL FROM:<a@fabrikam.com> SIZE=30
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@contoso.com>
        S: 250 2.1.5 Recipient OK
        C: BDAT 30 LAST
        C> Subject: x\r\n\r\nhello exchange\r\n
        S: 250 2.6.0 <0a1b@mail.fabrikam.com> [InternalId=1099511627777, Hostname=EX01.contoso.com] Queued mail for delivery
        C: QUIT
        S: 221 2.0.0 Service closing transmission channel
        S! close
        C! close
        """;

    /// <summary>Exchange Online Protection as it answers a sender it trusts: seed 000's reply, with STARTTLS.</summary>
    public const string EopBeforeTls = """
        S: 220 SN1NAM02FT021.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Fri, 6 Dec 2013 21:54:51 +0000
        C: EHLO mail.contoso.com
        S: 250-SN1NAM02FT021.mail.protection.outlook.com Hello [1.2.3.4]
        S: 250-SIZE 157286400
        S: 250-PIPELINING
        S: 250-DSN
        S: 250-ENHANCEDSTATUSCODES
        S: 250-STARTTLS
        S: 250-8BITMIME
        S: 250-BINARYMIME
        S: 250 CHUNKING
        C: STARTTLS
        S: 220 2.0.0 SMTP server ready
        """;

    public const string EopInsideTls = """
        C: EHLO mail.contoso.com
        S: 250-SN1NAM02FT021.mail.protection.outlook.com Hello [1.2.3.4]
        S: 250-SIZE 157286400
        S: 250-PIPELINING
        S: 250-DSN
        S: 250-ENHANCEDSTATUSCODES
        S: 250-8BITMIME
        S: 250-BINARYMIME
        S: 250 CHUNKING
        C: MAIL FROM:<a@contoso.com>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@contoso.onmicrosoft.com>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 Start mail input; end with <CRLF>.<CRLF>
        C: Subject: to the cloud
        C:
        C: hi
        C: .
        S: 250 2.6.0 <abc@mail.contoso.com> [InternalId=123, Hostname=SN1NAM02HT001.eop-nam02.prod.protection.outlook.com] Queued mail for delivery
        C: QUIT
        S: 221 2.0.0 Service closing transmission channel
        S! close
        C! close
        """;

    /// <summary>A healthy STARTTLS session: both legs TLS 1.3 AES-GCM, a publicly trusted certificate for <paramref name="names"/>.</summary>
    public static SessionEvents Tls(string before, string inside, string host, IReadOnlyList<string> names) => new SessionEvents()
        .Smtp(before)
        .Intercepted(
            SessionEvents.CompletedLeg("upstream", 0x0304, 0x1302, SessionEvents.Certificate(names[0], names, "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US"), nameChecked: host, hello: SessionEvents.Hello(TlsPolicy.Default)),
            SessionEvents.CompletedLeg("client", 0x0304, 0x1302, hello: SessionEvents.Hello(TlsPolicy.Default)))
        .Smtp(inside, afterTls: true)
        .Disconnect();
}
