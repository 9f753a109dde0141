namespace SmtpLens.Tls;

/// <summary>Chooses the key type of the leaf forged for one client: ECDSA P-256 when its ClientHello accepts one and
/// the client leg still negotiates what the real server negotiated.</summary>
/// <remarks>perf: an ECDSA P-256 signature costs a fraction of an RSA-2048 one, and the client leg signs once per
/// session. A client that cannot verify ECDSA P-256 (or whose offer leaves no ECDSA suite the policy accepts) gets
/// RSA-2048, as before. The choice depends on the version the client leg will speak, which follows the upstream's.
/// Up to TLS 1.2 the suite names the certificate's key type, so an RSA upstream (an ECDHE_RSA suite) keeps an RSA
/// leaf: the sender must see the suite the real server chose. TLS 1.3 suites do not depend on the key.</remarks>
internal static class ForgedLeafKey
{
    private const int Secp256r1 = 23;
    private const int EcdsaSignature = 3;
    private const int EcdsaSecp256r1Sha256 = 0x0403;

    /// <param name="version">The version the client leg will negotiate (the upstream's), or null when not yet known:
    /// then ECDSA must work at every version both sides could still pick.</param>
    /// <param name="upstreamSuite">The suite the upstream chose; up to TLS 1.2 only an ECDHE_ECDSA one allows ECDSA.</param>
    public static bool AcceptsEcdsa(ClientHello hello, TlsPolicy clientPolicy, int? version, int? upstreamSuite)
    {
        var tls13 = clientPolicy.MaximumVersion >= 0x0304 && hello.MaxVersion >= 0x0304;
        var tls12 = clientPolicy.MinimumVersion <= 0x0303;
        if (version < clientPolicy.MinimumVersion || version > clientPolicy.MaximumVersion)
        {
            // The client leg cannot answer with the upstream's version; it negotiates its own.
            version = null;
        }

        return version switch
        {
            0x0304 => AcceptsAt13(hello),
            { } v when v < 0x0304 => IsEcdsaSuite(upstreamSuite) && AcceptsAtOrBelow12(hello, clientPolicy),
            _ => (!tls13 || AcceptsAt13(hello)) && (!tls12 || (IsEcdsaSuite(upstreamSuite) && AcceptsAtOrBelow12(hello, clientPolicy))),
        };
    }

    private static bool IsEcdsaSuite(int? suite) => suite is { } s && TlsNames.CipherSuite(s).Contains("_ECDSA_", StringComparison.Ordinal);

    // RFC 8446 4.2.3: in TLS 1.3 the signature scheme names the curve, and signature_algorithms is mandatory.
    private static bool AcceptsAt13(ClientHello hello) => hello.SignatureAlgorithms.Contains(EcdsaSecp256r1Sha256);

    // RFC 8422 5.1 / RFC 5246 7.4.1.4.1: an ECDHE_ECDSA suite we accept, P-256 among the client's curves (all
    // curves when it names none), and an ECDSA signature among its algorithms (SHA-1 ECDSA when it names none).
    private static bool AcceptsAtOrBelow12(ClientHello hello, TlsPolicy clientPolicy) =>
        hello.CipherSuites.Any(s => clientPolicy.CipherSuites.Contains(s) && !TlsPolicy.IsTls13Suite(s) && TlsNames.CipherSuite(s).Contains("_ECDSA_", StringComparison.Ordinal))
        && (hello.SupportedGroups.Count == 0 || hello.SupportedGroups.Contains(Secp256r1))
        && (hello.SignatureAlgorithms.Count == 0 || hello.SignatureAlgorithms.Any(a => (a & 0xff) == EcdsaSignature && a >> 8 is >= 2 and <= 6));
}
