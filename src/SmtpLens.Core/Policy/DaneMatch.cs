using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Policy;

/// <summary>RFC 7672 / RFC 7671 matching of a presented chain against TLSA records, with no I/O.</summary>
/// <remarks>Only DANE-TA(2) and DANE-EE(3) are usable for SMTP (RFC 7672 3.1.3); selectors 0 (certificate) and 1
/// (SubjectPublicKeyInfo); matching 0 (exact), 1 (SHA-256), 2 (SHA-512). DANE-EE ignores names and validity
/// (RFC 7672 3.1.1); DANE-TA needs the chain to the matched trust anchor to be valid now and the leaf to name the
/// TLSA base domain or the next-hop domain (3.2.2).</remarks>
internal static class DaneMatch
{
    public static bool Usable(TlsaRecordData r) =>
        r.Usage is 2 or 3 && r.Selector is 0 or 1 && r.MatchingType switch
        {
            0 => r.Data.Length > 0,
            1 => r.Data.Length == 32,
            2 => r.Data.Length == 64,
            _ => false,
        };

    public static string WhyUnusable(TlsaRecordData r) =>
        r.Usage is 0 or 1 ? $"usage {r.Usage} ({(r.Usage == 0 ? "PKIX-TA" : "PKIX-EE")}) is not used for SMTP (RFC 7672 3.1.3)"
        : r.Usage is not (2 or 3) ? $"unknown usage {r.Usage}"
        : r.Selector is not (0 or 1) ? $"unknown selector {r.Selector}"
        : r.MatchingType is not (0 or 1 or 2) ? $"unknown matching type {r.MatchingType}"
        : $"association data of {r.Data.Length} bytes does not fit matching type {r.MatchingType}";

    /// <summary>Whether one certificate (DER) matches the record's selector and matching type.</summary>
    public static bool Matches(TlsaRecordData r, byte[] certificateDer)
    {
        byte[] selected;
        if (r.Selector == 0)
        {
            selected = certificateDer;
        }
        else
        {
            using var cert = X509CertificateLoader.LoadCertificate(certificateDer);
            selected = cert.PublicKey.ExportSubjectPublicKeyInfo();
        }

        var digest = r.MatchingType switch
        {
            0 => selected,
            1 => SHA256.HashData(selected),
            _ => SHA512.HashData(selected),
        };
        return CryptographicOperations.FixedTimeEquals(digest, r.Data);
    }

    /// <summary>The outcome of DANE authentication: the record that matched, or why none did.</summary>
    internal sealed record Outcome(bool Authenticated, TlsaRecordData? Matched, string Detail);

    public static Outcome Authenticate(IReadOnlyList<TlsaRecordData> usable, IReadOnlyList<byte[]> chainDer, IReadOnlyList<string> referenceNames, DateTimeOffset now)
    {
        if (chainDer.Count == 0)
        {
            return new Outcome(false, null, "no certificate presented");
        }

        foreach (var r in usable.Where(r => r.Usage == 3))
        {
            if (Matches(r, chainDer[0]))
            {
                return new Outcome(true, r, $"DANE-EE record {r.Describe()} matches the leaf (name and expiry not checked, RFC 7672 3.1.1)");
            }
        }

        var taProblems = new List<string>();
        foreach (var r in usable.Where(r => r.Usage == 2))
        {
            // The trust anchor must be presented in the chain (RFC 7672 3.1.2: servers SHOULD include it).
            for (var i = 0; i < chainDer.Count; i++)
            {
                if (!Matches(r, chainDer[i]))
                {
                    continue;
                }

                using var anchor = X509CertificateLoader.LoadCertificate(chainDer[i]);
                var check = ChainCheck.Run(chainDer, [anchor], now);
                if (!check.Valid)
                {
                    taProblems.Add($"DANE-TA record {r.Describe()} matches certificate [{i}], but the chain to it fails: {check.OpenSslProblem}");
                    continue;
                }

                using var leaf = X509CertificateLoader.LoadCertificate(chainDer[0]);
                var summary = Tls.CertificateSummary.From(leaf);
                if (!referenceNames.Any(summary.Matches))
                {
                    taProblems.Add($"DANE-TA record {r.Describe()} matches certificate [{i}], but the leaf names none of {string.Join(", ", referenceNames)} (hostname mismatch)");
                    continue;
                }

                return new Outcome(true, r, $"DANE-TA record {r.Describe()} matches certificate [{i}], the chain to it is valid and the leaf names {referenceNames.First(summary.Matches)}");
            }
        }

        return taProblems.Count > 0
            ? new Outcome(false, null, taProblems[0])
            : new Outcome(false, null, $"no TLSA record matches the presented chain ({usable.Count} usable record(s): {string.Join("; ", usable.Select(u => u.Describe()))})");
    }
}
