namespace SmtpLens.Findings;

/// <summary>The stable finding codes. These names are an interface (transcripts, --findings, scripts): never rename one.</summary>
internal static class FindingCodes
{
    public const string StartTlsNotOffered = "STARTTLS_NOT_OFFERED";
    public const string EhloKeywordMasked = "EHLO_KEYWORD_MASKED";
    public const string BannerMasked = "BANNER_MASKED";
    public const string CommandMasked = "COMMAND_MASKED";
    public const string EhloRejected = "EHLO_REJECTED";
    public const string EhloKeywordOnlyInTls = "EHLO_KEYWORD_ONLY_IN_TLS";
    public const string StartTlsRejected = "STARTTLS_REJECTED";
    public const string TlsRequiredNotStarted = "TLS_REQUIRED_NOT_STARTED";
    public const string StartTlsInjection = "STARTTLS_INJECTION";
    public const string TlsHandshakeFailed = "TLS_HANDSHAKE_FAILED";
    public const string TlsDroppedAfterHandshake = "TLS_DROPPED_AFTER_HANDSHAKE";
    public const string TlsLegacyProtocol = "TLS_LEGACY_PROTOCOL";
    public const string TlsWeakCipher = "TLS_WEAK_CIPHER";
    public const string TlsVersionCappedUpstream = "TLS_VERSION_CAPPED_UPSTREAM";
    public const string CertExpired = "CERT_EXPIRED";
    public const string CertNotYetValid = "CERT_NOT_YET_VALID";
    public const string CertUntrusted = "CERT_UNTRUSTED";
    public const string CertNameMismatch = "CERT_NAME_MISMATCH";
    public const string CertWildcard = "CERT_WILDCARD";
    public const string EhloNameNotInCertificate = "EHLO_NAME_NOT_IN_CERTIFICATE";
    public const string TlsPolicyWouldFail = "TLS_POLICY_WOULD_FAIL";

    /// <summary>Raised from <c>--check-revocation</c> results (<c>revocation</c> events).</summary>
    public const string CertRevocationUnreachable = "CERT_REVOCATION_UNREACHABLE";
    public const string CertRevoked = "CERT_REVOKED";
    public const string CertRevocationStale = "CERT_REVOCATION_STALE";

    /// <summary>Raised by <c>smtplens connectors</c> over a run's sessions, not by a session detector.</summary>
    public const string ConnectorWildcardOverlap = "CONNECTOR_WILDCARD_OVERLAP";
    public const string BlocklistRejection = "BLOCKLIST_REJECTION";
    public const string SmtpSmuggling = "SMTP_SMUGGLING";
    public const string ReplyCodeInconsistent = "REPLY_CODE_INCONSISTENT";
    public const string UpstreamDeferral = "UPSTREAM_DEFERRAL";

    /// <summary>Raised by <c>smtplens diff</c> only: a keyword present in A and absent in B.</summary>
    public const string EhloKeywordStripped = "EHLO_KEYWORD_STRIPPED";

    /// <summary>Raised by <c>smtplens probe --mx</c> only, over every address of every MX host.</summary>
    public const string MxTlsInconsistent = "MX_TLS_INCONSISTENT";
}
