namespace SmtpLens.Findings;

/// <summary>A fresh set of every detector, for one session (detectors keep per-session state).</summary>
internal static class FindingDetectors
{
    public static IReadOnlyList<IFindingDetector> Create() =>
    [
        new BannerMaskDetector(),
        new EhloOfferDetector(),
        new EhloRejectedDetector(),
        new EhloTlsKeywordDetector(),
        new CommandMaskDetector(),
        new StartTlsReplyDetector(),
        new StartTlsInjectionDetector(),
        new TlsRequiredDetector(),
        new TlsHandshakeDetector(),
        new TlsParametersDetector(),
        new TlsVersionCapDetector(),
        new CertificateDetector(),
        new EhloNameDetector(),
        new BlocklistDetector(),
        new DeferralDetector(),
        new ReplyCodeDetector(),
        new SmugglingDetector(),
        new RevocationDetector(),
        new TlsPolicyDetector(),
    ];
}
