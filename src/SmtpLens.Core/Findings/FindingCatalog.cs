using System.Collections.Frozen;

namespace SmtpLens.Findings;

/// <summary>Every finding code with its explanation. The causes come from real incidents (the seed write-ups:
/// EOP withdrawing STARTTLS for CBL-listed senders, Cisco ESMTP inspection, a TLS 1.0/RC4 appliance, a
/// wildcard connector certificate) and from what Postfix, Exim and Exchange actually answer.</summary>
internal static class FindingCatalog
{
    public static readonly FindingDefinition StartTlsNotOffered = new(
        FindingCodes.StartTlsNotOffered,
        FindingSeverity.Warning,
        "The upstream's EHLO reply has no STARTTLS, so this session can only continue in plaintext. A sender whose connector requires TLS gives up here and queues, and Exchange then reports the misleading \"451 5.7.3 Must issue a STARTTLS command first\" or \"STARTTLS is required to send mail\" as the last error. Severity: warning when the client gives up right after the EHLO reply (QUIT or close without MAIL) or a masked keyword hides STARTTLS; info when mail goes on in plaintext, as it normally does with relays that have no TLS.",
        [
            "The receiving server is not configured for TLS (neither forced nor opportunistic TLS on its receive connector).",
            "The sending IP is on a block list (CBL/XBL, Spamhaus, or the receiver's own list): Exchange Online Protection withdraws STARTTLS and other ESMTP verbs from listed senders.",
            "The receiving server is configured to speak SMTP only, not ESMTP; STARTTLS is an ESMTP extension.",
            "A firewall doing SMTP/ESMTP inspection (Cisco PIX/ASA \"fixup smtp\"/\"inspect esmtp\" and similar) filters \"unsafe\" verbs from the EHLO reply.",
        ],
        "Connect from the same source IP with telnet or 'smtplens probe' and compare the EHLO reply; send a test message without TLS, since a block-listed sender is told which list it is on and how to request removal; check the receive connector's TLS settings and any ESMTP inspection between the hosts.",
        "finding WARNING STARTTLS_NOT_OFFERED (upstream leg): the upstream's EHLO reply has no STARTTLS (keywords SIZE, PIPELINING, DSN, ENHANCEDSTATUSCODES, AUTH, 8BITMIME, BINARYMIME, CHUNKING); the client quit right after it without sending mail, as a sender that requires TLS does");

    public static readonly FindingDefinition EhloKeywordMasked = new(
        FindingCodes.EhloKeywordMasked,
        FindingSeverity.Warning,
        "An EHLO keyword was overwritten with filler (X or *) on its way to the client. Inspection firewalls do this to extensions they do not allow, so the client never sees them; an 8-letter keyword such as 250-XXXXXXXA is almost always STARTTLS.",
        [
            "Cisco PIX/ASA ESMTP inspection (\"fixup smtp\", \"inspect esmtp\") or a similar SMTP-aware firewall or proxy between the hosts.",
            "A receiving server configured to hide the extension by rewriting it, which is rare.",
        ],
        "Disable ESMTP inspection for this traffic on the firewall (for Cisco ASA: 'no inspect esmtp' in the policy map), or allow the extension; then compare EHLO replies taken inside and outside the firewall with 'smtplens probe' and 'smtplens diff'.",
        "finding WARNING EHLO_KEYWORD_MASKED (upstream leg): EHLO keyword \"XXXXXXXA\" is masked; 8 letters, most likely STARTTLS (or SMTPUTF8, XFORWARD)");

    public static readonly FindingDefinition BannerMasked = new(
        FindingCodes.BannerMasked,
        FindingSeverity.Warning,
        "The 220 greeting is obscured by asterisks, as SMTP inspection firewalls do to hide the server's identity. The same device usually rewrites or blocks ESMTP extensions, STARTTLS included.",
        [
            "Cisco PIX/ASA SMTP/ESMTP inspection, which replaces the banner with asterisks and keeps some digits (220 ****************************2*0***0****).",
            "Another SMTP-aware firewall or proxy that hides the banner.",
        ],
        "Find the inspecting device on the path and turn off SMTP banner obfuscation and ESMTP inspection for this traffic; check the EHLO reply of the same session for masked or missing keywords.",
        "finding WARNING BANNER_MASKED (upstream leg): the greeting is masked: 220 ****************************2*0***0****");

    public static readonly FindingDefinition CommandMasked = new(
        FindingCodes.CommandMasked,
        FindingSeverity.Error,
        "A command was replaced by X's in the path and the server refused it as unrecognized (500 5.5.1 Command unrecognized: \"XXXXXXXX\"). The sender sees its command refused, and TLS or the extension it asked for never happens. Severity: error when the command is (most likely) STARTTLS, warning otherwise.",
        [
            "Cisco PIX/ASA ESMTP inspection rewriting commands it does not allow (STARTTLS becomes XXXXXXXX).",
            "Another SMTP-aware firewall or proxy filtering ESMTP commands.",
        ],
        "Disable ESMTP inspection for this traffic on the firewall or allow the command; then retry and check that the server receives the command unchanged.",
        "finding ERROR COMMAND_MASKED (client leg): STARTTLS reached the server as \"XXXXXXXX\" and was refused: 500 5.5.1 Command unrecognized: \"XXXXXXXX\"");

    public static readonly FindingDefinition EhloRejected = new(
        FindingCodes.EhloRejected,
        FindingSeverity.Warning,
        "EHLO was refused and the session fell back to HELO, which has no extensions: no STARTTLS, no SIZE, no 8BITMIME. Mail may still flow, but in plaintext and without ESMTP.",
        [
            "A firewall or proxy doing SMTP inspection that strips ESMTP by refusing EHLO.",
            "A receiving server configured to speak SMTP only (not ESMTP).",
            "A very old or minimal SMTP implementation on the receiving side.",
        ],
        "Telnet to the receiver from inside and outside the firewall and send EHLO; if only one of them refuses it, the device in between is downgrading the session.",
        "finding WARNING EHLO_REJECTED (upstream leg): EHLO was refused (500 5.5.1 Command unrecognized) and HELO was accepted: ESMTP is downgraded");

    public static readonly FindingDefinition StartTlsRejected = new(
        FindingCodes.StartTlsRejected,
        FindingSeverity.Warning,
        "STARTTLS was offered (or tried) but the server refused it, so the session stays in plaintext or the sender gives up and queues.",
        [
            "454 4.7.0 TLS not available: the receiver has no usable certificate or key, or its TLS layer failed to start.",
            "500/502: something in the path (an inspection firewall) does not let the command through, or the receiver advertises STARTTLS without supporting it.",
            "The receiver refuses TLS from this client by policy or because of load.",
        ],
        "Look at the receiver's log at the time of the session (Postfix logs the certificate or key problem behind a 454); check that its certificate and key are readable and match; compare with a session from another network path.",
        "finding WARNING STARTTLS_REJECTED (upstream leg): STARTTLS refused: 454 4.7.0 TLS not available due to local problem");

    public static readonly FindingDefinition EhloKeywordOnlyInTls = new(
        FindingCodes.EhloKeywordOnlyInTls,
        FindingSeverity.Warning,
        "The server offers a keyword inside TLS that its plaintext EHLO reply on the same connection lacked. Servers legitimately withhold AUTH until TLS and must not repeat STARTTLS (RFC 3207 4.2), but other extensions normally stay the same: one that appears only once the dialogue is encrypted was most likely removed from the plaintext by a device that can read it and cannot read TLS.",
        [
            "A firewall or proxy doing SMTP/ESMTP inspection (Cisco PIX/ASA \"inspect esmtp\" and similar) filters or masks extensions in the plaintext EHLO reply; inside TLS it sees nothing to filter.",
            "The receiver is configured to offer the extension only over TLS (uncommon for anything but AUTH).",
            "A different server or connector answers after STARTTLS (TLS offload on a load balancer).",
        ],
        "Probe again from a point with no firewall in between and compare with 'smtplens diff'; if the keyword is present there in plaintext, turn off ESMTP inspection for this traffic.",
        "finding WARNING EHLO_KEYWORD_ONLY_IN_TLS (upstream leg): CHUNKING is offered inside TLS but not in the plaintext EHLO reply (masked as XXXXXXXX there)");

    public static readonly FindingDefinition TlsRequiredNotStarted = new(
        FindingCodes.TlsRequiredNotStarted,
        FindingSeverity.Error,
        "The receiver demands TLS before it accepts mail, and this session never started it, so the mail is refused or deferred. Note that Exchange reports \"451 5.7.3 Must issue a STARTTLS command first\" even when the real cause is that the receiver never offered STARTTLS.",
        [
            "The sending server is not configured to use TLS (on Exchange: no SMTP-enabled certificate; 'Enable-ExchangeCertificate -Services SMTP' with the right thumbprint).",
            "STARTTLS was not offered to this sender (block-listed IP, ESMTP inspection), so a sender that would have used it could not.",
            "The sender does opportunistic TLS but its TLS attempt failed, and it retried in plaintext.",
        ],
        "Check whether the EHLO reply offered STARTTLS: if it did, enable TLS and a valid certificate on the sender; if it did not, treat it as STARTTLS_NOT_OFFERED (block list, firewall, receiver configuration).",
        "finding ERROR TLS_REQUIRED_NOT_STARTED (client leg): the upstream requires TLS (530 5.7.0 Must issue a STARTTLS command first) and the client never started it");

    public static readonly FindingDefinition StartTlsInjection = new(
        FindingCodes.StartTlsInjection,
        FindingSeverity.Error,
        "Plaintext arrived after STARTTLS and before the TLS handshake. From the client, a vulnerable receiver would execute it inside the TLS session as if it had been protected (CVE-2011-0411 class). From the upstream, after its 220, a vulnerable sender would read it as replies inside TLS (CVE-2011-1575 class). SmtpLens discarded the bytes.",
        [
            "An attacker or a test tool injecting commands or replies (a man-in-the-middle on that leg).",
            "A buggy client that pipelines commands after STARTTLS, which RFC 3207 forbids.",
            "A middlebox on the upstream leg that answers for the server and then lets TLS through.",
        ],
        "Identify the host on that leg; if it is a legitimate MTA, update it; if not, treat the session as an attack and check whether the other side is patched against STARTTLS injection.",
        "finding ERROR STARTTLS_INJECTION (client leg): the client sent 24 bytes of plaintext after STARTTLS: MAIL FROM:<x@example>\\r\\n");

    public static readonly FindingDefinition TlsHandshakeFailed = new(
        FindingCodes.TlsHandshakeFailed,
        FindingSeverity.Error,
        "STARTTLS was accepted but the TLS handshake did not complete. The alert and who raised it say why; the sender either queues (TLS required) or retries in plaintext.",
        [
            "No common protocol version or cipher suite (an old appliance that speaks only TLS 1.0 or RC4 against a receiver that disabled them, or the reverse).",
            "A certificate the other side refuses (expired, untrusted chain, wrong name) when it validates.",
            "A middlebox that corrupts or blocks TLS records.",
        ],
        "Compare both sides' offers in the tls-clienthello and tls events of this session (versions and suites); run 'smtplens probe' with --tls-version and --cipher to see what the receiver accepts.",
        "finding ERROR TLS_HANDSHAKE_FAILED (upstream leg): the upstream leg handshake failed: the peer sent a fatal handshake_failure alert [alerts: fatal handshake_failure by peer]");

    public static readonly FindingDefinition TlsDroppedAfterHandshake = new(
        FindingCodes.TlsDroppedAfterHandshake,
        FindingSeverity.Error,
        "The TLS handshake completed, and then the connection closed (or hung) before any SMTP reply. This is the pattern of a legacy TLS 1.0/RC4 negotiation that one side accepts and then cannot use: the message stays queued and retries succeed only when they reach a server that still allows the old cipher.",
        [
            "An old system (for example a Windows 2003 spam filter) that negotiates TLS 1.0 with RC4 or a suite it advertises but cannot actually use.",
            "The other side dropping the session because of the negotiated version or cipher (a receiver that is withdrawing RC4 or TLS 1.0).",
            "A firewall or inspection device that lets the handshake through and then breaks the encrypted stream.",
        ],
        "Look at the negotiated version and cipher of this session; disable TLS 1.0 and RC4 on the old side or upgrade it; a capture at the network edge plus the key log (--keylog) shows which side closed.",
        "finding ERROR TLS_DROPPED_AFTER_HANDSHAKE (upstream leg): TLS (TLSv1.0 TLS_RSA_WITH_RC4_128_SHA) was negotiated, then the upstream closed the connection before any SMTP reply");

    public static readonly FindingDefinition TlsLegacyProtocol = new(
        FindingCodes.TlsLegacyProtocol,
        FindingSeverity.Warning,
        "SSLv3, TLS 1.0 or TLS 1.1 was negotiated or was the best a side offered. Exchange Online and most modern receivers have withdrawn these, so sessions fail or drop depending on which server answers.",
        [
            "An old operating system or appliance (Windows 2003, old spam filters and gateways) that supports nothing newer.",
            "A TLS configuration that was deliberately restricted and never updated.",
        ],
        "Enable TLS 1.2 (or later) on the legacy side, or replace the system; until then expect deliveries that work only against some servers.",
        "finding WARNING TLS_LEGACY_PROTOCOL (client leg): the client offered at most TLSv1.0");

    public static readonly FindingDefinition TlsWeakCipher = new(
        FindingCodes.TlsWeakCipher,
        FindingSeverity.Warning,
        "A weak cipher suite (RC4, 3DES, NULL, EXPORT, anonymous, or CBC with SHA-1) was negotiated or was all a side offered. Receivers that withdrew these refuse or drop the session.",
        [
            "An old TLS stack that offers only legacy suites (RC4 with TLS 1.0 on Windows 2003).",
            "A cipher order that prefers legacy suites.",
        ],
        "Enable AES-GCM or ChaCha20 suites with ECDHE on the weak side and remove RC4, 3DES, NULL, EXPORT and anonymous suites.",
        "finding WARNING TLS_WEAK_CIPHER (upstream leg): weak cipher negotiated on the upstream leg: TLS_RSA_WITH_RC4_128_SHA (RC4)");

    public static readonly FindingDefinition TlsVersionCappedUpstream = new(
        FindingCodes.TlsVersionCappedUpstream,
        FindingSeverity.Info,
        "The sender offered TLS 1.3, SmtpLens offered the upstream the same, and the upstream chose an older version. Nothing fails because of it, but almost every current MTA pair speaks TLS 1.3, so an older choice is a clue: the receiving server or something in front of it caps TLS.",
        [
            "An older receiving server or TLS library without TLS 1.3 (Exchange 2016/2019 on Windows Server before 2022, OpenSSL before 1.1.1).",
            "A load balancer, firewall or TLS-terminating gateway in front of the server that speaks TLS 1.2 at most.",
            "TLS 1.3 deliberately disabled on the receiving server (registry, tls_protocols or smtpd_tls_protocols settings).",
        ],
        "Probe the upstream directly with 'smtplens probe' (or openssl s_client -starttls smtp -tls1_3) from inside and outside any gateway; if the server supports TLS 1.3 directly, the device in between caps it.",
        "finding INFO TLS_VERSION_CAPPED_UPSTREAM (upstream leg): the sender offered TLSv1.3 and SmtpLens offered it upstream, but the upstream chose TLSv1.2");

    public static readonly FindingDefinition CertExpired = new(
        FindingCodes.CertExpired,
        FindingSeverity.Error,
        "The certificate had expired at the time of the session. Senders that validate (forced TLS, Exchange Online to a hybrid server) queue the mail; and messages queued in Exchange Online while the certificate was bad may never be resubmitted.",
        [
            "The certificate was not renewed, or the renewed one was not bound to SMTP (Enable-ExchangeCertificate -Services SMTP) or not installed on every node.",
        ],
        "Renew the certificate, bind it to the SMTP service on every server behind the name, and re-test with 'smtplens probe'.",
        "finding ERROR CERT_EXPIRED (upstream leg): the upstream certificate CN=mail.example.com SAN=[DNS:mail.example.com] expired 2026-10-01 12:00 UTC");

    public static readonly FindingDefinition CertNotYetValid = new(
        FindingCodes.CertNotYetValid,
        FindingSeverity.Error,
        "The certificate is not valid yet at the time of the session, so validating senders refuse it.",
        [
            "A new certificate was installed before its start date.",
            "The clock on one of the hosts is wrong.",
        ],
        "Check the clocks (NTP) of both hosts, or keep the previous certificate until the new one is valid.",
        "finding ERROR CERT_NOT_YET_VALID (upstream leg): the upstream certificate CN=mail.example.com SAN=[DNS:mail.example.com] is valid only from 2027-01-01 00:00 UTC");

    public static readonly FindingDefinition CertUntrusted = new(
        FindingCodes.CertUntrusted,
        FindingSeverity.Warning,
        "The certificate chain does not build to a trusted root (self-signed or an unknown CA). Opportunistic senders continue anyway, but Exchange Online, forced-TLS connectors and DANE/MTA-STS senders refuse it.",
        [
            "A self-signed certificate (the default one many MTAs generate at install).",
            "A private or internal CA that the sender does not trust.",
            "A missing intermediate certificate in the chain the server sends.",
            "A TLS-inspecting middlebox re-signing the session with its own CA.",
        ],
        "Use a certificate from a public CA, serve the full chain (intermediates included), and check that the CRL is reachable; compare the issuer with what you expect to detect an inspecting middlebox.",
        "finding WARNING CERT_UNTRUSTED (upstream leg): the upstream certificate chain is not trusted: self-signed (CN=mx.example.org SAN=[DNS:mx.example.org])");

    public static readonly FindingDefinition CertNameMismatch = new(
        FindingCodes.CertNameMismatch,
        FindingSeverity.Warning,
        "Neither the CN nor any SAN of the upstream's certificate covers the host name SmtpLens connected to, or (probe --mx) the MX host name. A sender that verifies the name (forced TLS, DANE, MTA-STS) refuses the certificate.",
        [
            "The certificate was issued for another name (a different MX, an old host name).",
            "The MX record or smart host names a host whose certificate carries other names.",
            "The MX or smart host points at a server or load balancer that serves a different certificate.",
        ],
        "Add the host name (and the MX host name) to the certificate as a SAN, or point the MX at a name the certificate covers, and check which certificate is bound to SMTP on every node behind the name.",
        "finding WARNING CERT_NAME_MISMATCH (upstream leg): the upstream certificate (CN=other.example.net SAN=[DNS:other.example.net]) does not cover mx.example.org (host name used, MX host name)");

    public static readonly FindingDefinition CertWildcard = new(
        FindingCodes.CertWildcard,
        FindingSeverity.Info,
        "The certificate carries a wildcard name. That is valid for TLS, but connectors that select by certificate name (Exchange Online inbound connectors with TlsSenderCertificateName) can match more senders than intended: a connector for *.example.com also accepts mx01.example.com and every other host with a certificate under that domain, so mail can be routed through the wrong tenant or connector.",
        [
            "A wildcard certificate used for SMTP, or a connector configured with a wildcard certificate name.",
        ],
        "Use dedicated certificates with specific names for mail flow that connectors distinguish by certificate, and set TlsSenderCertificateName to the exact name.",
        "finding INFO CERT_WILDCARD (upstream leg): the upstream certificate has a wildcard name: *.example.com");

    public static readonly FindingDefinition EhloNameNotInCertificate = new(
        FindingCodes.EhloNameNotInCertificate,
        FindingSeverity.Warning,
        "The name a server gives in its banner or EHLO reply, or the name a sender gives in its EHLO, is not the subject or a SAN of the certificate it presented (a wildcard covers exactly one label of its own domain). Exchange 2013 and later and Exchange Online require that match for TLS between them: with forced TLS (hybrid mail flow, TLS-required connectors) the mail queues, and Exchange Online inbound connectors cannot select the sender by its certificate. Other receivers do not check it, so on other paths this is only a hint.",
        [
            "The receive or send connector's FQDN was set to a name (an internal host name, an old alias) that is not on the certificate bound to SMTP.",
            "A different certificate is bound to SMTP than the one issued for the connector's FQDN (Enable-ExchangeCertificate -Services SMTP on another certificate).",
            "A gateway in front of Exchange announces its own host name but serves another certificate.",
        ],
        "Make the connector's FQDN one of the certificate's names (Set-ReceiveConnector/Set-SendConnector -Fqdn, or add the name as a SAN), or bind the certificate issued for that name to SMTP; re-test with 'smtplens probe'.",
        "finding WARNING EHLO_NAME_NOT_IN_CERTIFICATE (upstream leg): the upstream calls itself mail.example.org (banner, EHLO reply), but its certificate (CN=other.example.net SAN=[DNS:other.example.net]) names only other.example.net; Exchange 2013 and later and Exchange Online require the name to match");

    public static readonly FindingDefinition CertRevocationUnreachable = new(
        FindingCodes.CertRevocationUnreachable,
        FindingSeverity.Error,
        "A CRL distribution point or OCSP responder named in a certificate of the peer's chain could not be read from here (--check-revocation). Exchange 2013 and later and Exchange Online require the issuing CA's CRL to be fetchable: a receiver that cannot read it does not trust the certificate, and with forced TLS the mail queues for days (seed 003). Severity: error when no source gave a status or a CRL could not be read, warning when another source answered.",
        [
            "The CA's CRL server is down, or the URL in the certificate is wrong or retired (an internal or decommissioned CA).",
            "A firewall or proxy blocks outbound HTTP from the mail servers (the receiver fetches the CRL itself, without the browser's proxy settings).",
            "The distribution point is an internal name or address the receiver cannot resolve or reach (a private enterprise CA used on an internet path).",
        ],
        "Fetch the URL from the receiving side (curl -v URL, or certutil -url on Windows); publish the CRL where receivers can reach it, or use a certificate from a public CA whose CRL and OCSP are reachable; re-run with --check-revocation.",
        "finding ERROR CERT_REVOCATION_UNREACHABLE (upstream leg): upstream certificate [0] CN=mail.example.org: CRL http://crl.example.org/ca.crl unreachable: connection refused; no source gave a status");

    public static readonly FindingDefinition CertRevoked = new(
        FindingCodes.CertRevoked,
        FindingSeverity.Error,
        "A CRL or OCSP responder of the issuing CA lists a certificate of the peer's chain as revoked (--check-revocation). Receivers that check revocation refuse the certificate, and with forced TLS the mail queues.",
        [
            "The certificate was replaced (renewed or re-keyed) and the old one revoked, but the server still presents the old one (not re-bound to SMTP, an old copy on a second node or a load-balanced gateway).",
            "The key was reported compromised and the CA revoked the certificate.",
        ],
        "Install and bind the current certificate (Enable-ExchangeCertificate -Services SMTP, smtpd_tls_chain_files) on every node that answers for the name; confirm with 'smtplens probe --check-revocation'.",
        "finding ERROR CERT_REVOKED (upstream leg): upstream certificate [0] CN=mail.example.org (serial 1A2B) is revoked: CRL http://crl.example.org/ca.crl: revoked at 2026-11-30T10:00:00Z (keyCompromise)");

    public static readonly FindingDefinition CertRevocationStale = new(
        FindingCodes.CertRevocationStale,
        FindingSeverity.Warning,
        "The CRL (or OCSP answer) that a certificate of the peer's chain points to is past its nextUpdate: the CA has stopped publishing it. A receiver that insists on a current CRL treats the status as unknown and, like Exchange, does not trust the certificate.",
        [
            "The CA's CRL publishing job stopped (an offline root whose CRL was not re-signed, an enterprise CA whose publication failed).",
            "A cache or mirror in front of the distribution point serves an old copy.",
        ],
        "Re-publish the CRL from the CA (certutil -crl on a Windows CA) and check its nextUpdate; if a cache serves the old copy, purge it.",
        "finding WARNING CERT_REVOCATION_STALE (upstream leg): upstream certificate [0] CN=mail.example.org: CRL http://crl.example.org/ca.crl: good, thisUpdate 2026-11-01T00:00:00Z, nextUpdate 2026-11-08T00:00:00Z, age 744 h, STALE (past nextUpdate)");

    public static readonly FindingDefinition TlsPolicyWouldFail = new(
        FindingCodes.TlsPolicyWouldFail,
        FindingSeverity.Error,
        "The TLS policy the real sender uses (--sender-policy: a Postfix level, DANE, MTA-STS, an Exchange Online connector's TlsSettings) would have refused what this upstream offered, so that sender queues the mail and retries until it expires. The reason is the sender's own words (Postfix's \"Server certificate not verified\", Exchange's \"451 4.4.0 ... TLS negotiation failed\"). Every policy's verdict is in the session's tls-policy events; this finding is raised only for the sender's own.",
        [
            "The upstream's certificate expired, is issued by a CA the sender does not trust, or does not name the host the sender matches (the MX host, the next-hop domain, the connector's TlsDomain).",
            "The upstream did not offer STARTTLS (block-listed sender, ESMTP inspection, receiver configuration) while the sender requires TLS.",
            "The domain's TLSA records or MTA-STS policy no longer match the server (a certificate or key rolled over without updating DNS or the policy, a new MX host missing from the policy's mx lines).",
        ],
        "Read the deciding reason and the facts of the failing tls-policy event; fix the certificate, the TLSA record or the MTA-STS policy, or align the sender's policy with what the receiver can do; then re-test with 'smtplens probe --mx DOMAIN'.",
        "finding ERROR TLS_POLICY_WOULD_FAIL (upstream leg): the sender's policy postfix:verify would refuse this upstream: Server certificate not verified (certificate has expired)");

    public static readonly FindingDefinition BlocklistRejection = new(
        FindingCodes.BlocklistRejection,
        FindingSeverity.Error,
        "The receiver refused the sender because of its IP address: a DNS block list or the receiver's own reputation list. Listed senders may also find STARTTLS and other ESMTP verbs withdrawn. Severity: error for a 5xx (permanent), warning for a 4xx.",
        [
            "The sending IP (or its NAT address) is listed, often because a compromised machine behind the same public IP sent spam or attack traffic.",
            "A shared or dynamic IP with a poor reputation, or missing reverse DNS.",
        ],
        "Follow the delisting hint in the reply (quoted in this finding), fix the cause of the listing first (find infected hosts behind the NAT address), then request removal; Microsoft delistings can take up to a day or more.",
        "finding ERROR BLOCKLIST_REJECTION (upstream leg): RCPT rejected by a block list (Spamhaus): 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1");

    public static readonly FindingDefinition SmtpSmuggling = new(
        FindingCodes.SmtpSmuggling,
        FindingSeverity.Warning,
        "The message content contains a dot line with bare LF or bare CR line endings (<LF>.<LF>, <CR>.<CR>, <CR><LF>.<LF> and the like). Receivers disagree whether that ends the message, which lets a second, forged message be smuggled through (SMTP smuggling, 2023).",
        [
            "A crafted message attempting SMTP smuggling.",
            "A broken client that sends bare LF line endings.",
        ],
        "Make the receiver accept only <CR><LF>.<CR><LF> as end of data (Postfix: smtpd_forbid_bare_newline = normalize/reject; Exim and Exchange have equivalent fixes) and identify the sending host.",
        "finding WARNING SMTP_SMUGGLING (client leg): message 1 has an ambiguous end-of-data pattern: <LF>.<LF> or <LF>.<CR><LF>");

    public static readonly FindingDefinition ReplyCodeInconsistent = new(
        FindingCodes.ReplyCodeInconsistent,
        FindingSeverity.Warning,
        "A multi-line reply uses different codes on different lines, which RFC 5321 4.2.1 forbids. Clients read either the first or the last code, so sender and receiver may disagree on what happened.",
        [
            "A proxy or firewall that rewrites or splices replies.",
            "A buggy server or milter that adds lines with its own code.",
        ],
        "Find out which device produced the odd lines (compare with a session that bypasses the path) and fix or bypass it.",
        "finding WARNING REPLY_CODE_INCONSISTENT (upstream leg): a multi-line reply to EHLO mixes codes 250/220");

    public static readonly FindingDefinition UpstreamDeferral = new(
        FindingCodes.UpstreamDeferral,
        FindingSeverity.Warning,
        "The receiver answered a mail command with a temporary failure (4xx). The sender keeps the message queued and retries; repeated deferrals show up as queued or \"Pending\" mail.",
        [
            "Greylisting, rate limiting or a temporary resource problem on the receiver.",
            "A policy check that could not complete (DNS, reputation lookup).",
            "The receiver requiring something this session did not do (TLS, authentication).",
        ],
        "Read the quoted reply: it usually says which; check the receiver's logs, and if the deferral repeats for hours, the cause is not temporary.",
        "finding WARNING UPSTREAM_DEFERRAL (upstream leg): RCPT deferred: 450 4.2.0 <bob@example.org>: Recipient address rejected: Greylisted");

    public static readonly FindingDefinition ConnectorWildcardOverlap = new(
        FindingCodes.ConnectorWildcardOverlap,
        FindingSeverity.Warning,
        "One Exchange Online inbound connector's wildcard TlsSenderCertificateName matches the certificates of more than one distinct sending host seen in the run. Nothing on the wire is wrong, but every one of those hosts lands on that connector: with an OnPremises connector, mail from hosts that were never meant to use it (other customers' gateways, seed 004) is attributed to the tenant and relayed through it.",
        [
            "A connector created with TlsSenderCertificateName *.domain (the Hybrid Configuration Wizard does this for a wildcard certificate) while other servers of the same domain (gateways, other organizations' relays) present certificates under that domain.",
            "Several systems sharing one wildcard certificate for SMTP.",
        ],
        "Give the host meant for the connector a dedicated certificate with its own name (smtpo365.domain) and set TlsSenderCertificateName to that exact name (Set-InboundConnector); re-run 'smtplens connectors' over the same transcripts to confirm each host now lands where intended.",
        "finding WARNING CONNECTOR_WILDCARD_OVERLAP (client leg): inbound connector \"Inbound from varunagroup\" (OnPremises) with TlsSenderCertificateName *.varunagroup.de matches 3 sending hosts: mx01.varunagroup.de (CN=mx01.varunagroup.de, from 192.0.2.11), mx02.varunagroup.de (CN=mx02.varunagroup.de, from 192.0.2.12), smtpo365.varunagroup.de (CN=smtpo365.varunagroup.de, from 192.0.2.20)");

    public static readonly FindingDefinition EhloKeywordStripped = new(
        FindingCodes.EhloKeywordStripped,
        FindingSeverity.Warning,
        "A keyword present in the first EHLO reply is absent from the second. Different receive connectors (ports 25 and 587, internal and external) legitimately offer different keywords, so this is a finding only when both replies should come from the same connector.",
        [
            "A firewall or proxy between the two vantage points filtering ESMTP verbs.",
            "The receiver withdrawing the keyword for one source (block-listed IP).",
            "A different receive connector or server answering (legitimate).",
        ],
        "Confirm both probes reached the same connector (banner, EHLO name, certificate); if they did, look for the device that filters the keyword.",
        "finding WARNING EHLO_KEYWORD_STRIPPED (upstream leg): STARTTLS is offered in A and absent in B");

    public static readonly FindingDefinition MxTlsInconsistent = new(
        FindingCodes.MxTlsInconsistent,
        FindingSeverity.Warning,
        "The addresses of a domain's MX hosts do not all offer the same TLS: STARTTLS, the handshake, the certificate's trust or name, or a sending policy's verdict depends on which address a sender picks. Senders pick among MX hosts by preference and among a host's addresses at random, so a sender that requires TLS delivers some of the time and queues the rest (intermittent STARTTLS). Severity: warning when a sender's decision depends on the address; info when only the certificate or TLS version differs between addresses of one host.",
        [
            "One node of a cluster or load-balancer pool configured differently (TLS disabled, an old or missing certificate, a different receive connector).",
            "An address (often the IPv6 one, or a secondary MX) pointing at another server, an old one, or a firewall that filters STARTTLS.",
            "A certificate renewed on some nodes only.",
        ],
        "Probe the differing addresses one by one ('smtplens probe ADDRESS:25 --sni MXHOST'), fix the node or the DNS record that is out of step, then run 'smtplens probe --mx DOMAIN' again until every address agrees.",
        "finding WARNING MX_TLS_INCONSISTENT (upstream leg): example.com's MX addresses differ: STARTTLS offered at mx1.example.com[192.0.2.1], NOT offered at mx1.example.com[192.0.2.2]; TLS handshake completed at mx1.example.com[192.0.2.1], not attempted at mx1.example.com[192.0.2.2]; 2 policy verdicts differ (postfix:encrypt, exo:EncryptionOnly)");

    /// <summary>Every definition, in the order docs/findings.md documents them.</summary>
    public static readonly IReadOnlyList<FindingDefinition> All =
    [
        StartTlsNotOffered, EhloKeywordMasked, BannerMasked, CommandMasked, EhloRejected, EhloKeywordOnlyInTls, StartTlsRejected, TlsRequiredNotStarted,
        StartTlsInjection, TlsHandshakeFailed, TlsDroppedAfterHandshake, TlsLegacyProtocol, TlsWeakCipher, TlsVersionCappedUpstream, CertExpired,
        CertNotYetValid, CertUntrusted, CertNameMismatch, CertWildcard, EhloNameNotInCertificate, TlsPolicyWouldFail, CertRevocationUnreachable, CertRevoked, CertRevocationStale, BlocklistRejection, SmtpSmuggling, ReplyCodeInconsistent,
        UpstreamDeferral, ConnectorWildcardOverlap, EhloKeywordStripped, MxTlsInconsistent,
    ];

    private static readonly FrozenDictionary<string, FindingDefinition> ByCode = All.ToFrozenDictionary(d => d.Code, StringComparer.Ordinal);

    public static FindingDefinition For(string code) =>
        ByCode.TryGetValue(code, out var definition) ? definition : throw new ArgumentException($"unknown finding code {code}", nameof(code));
}
