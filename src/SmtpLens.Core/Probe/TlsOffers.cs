using SmtpLens.Tls;

namespace SmtpLens.Probe;

/// <summary>The restricted offers of <c>--tls-version</c> and <c>--cipher</c>: one per value, or one per pair when both are given.</summary>
internal static class TlsOffers
{
    public static IReadOnlyList<TlsOffer> Build(IReadOnlyList<string> versions, IReadOnlyList<string> suites)
    {
        var parsedVersions = versions.Select(v => (Name: v.Trim().ToLowerInvariant(), Value: TlsPolicy.ParseVersion(v))).ToList();
        var parsedSuites = suites.Select(s => (Name: s.Trim().ToUpperInvariant(), Value: TlsPolicy.ParseSuite(s))).ToList();
        var offers = new List<TlsOffer>();
        if (parsedSuites.Count == 0)
        {
            foreach (var (name, version) in parsedVersions)
            {
                // Only suites that exist in that version: a TLS 1.0 ClientHello offering GCM is refused by careful servers.
                var valid = version >= 0x0304 ? [.. TlsPolicy.Tls13Suites] : TlsPolicy.Legacy.CipherSuites.Where(s => TlsPolicy.WorksAt(s, version)).ToList();
                offers.Add(new TlsOffer(name, TlsPolicy.Legacy with { MinimumVersion = version, MaximumVersion = version, CipherSuites = valid }));
            }

            return offers;
        }

        foreach (var (suiteName, suite) in parsedSuites)
        {
            if (parsedVersions.Count == 0)
            {
                // Every version the suite exists in: TLS 1.3 suites only there, the others up to TLS 1.2.
                var tls13 = TlsPolicy.IsTls13Suite(suite);
                offers.Add(new TlsOffer(suiteName, TlsPolicy.Legacy with { CipherSuites = [suite], MinimumVersion = tls13 ? 0x0304 : 0x0301, MaximumVersion = tls13 ? 0x0304 : 0x0303 }));
                continue;
            }

            foreach (var (versionName, version) in parsedVersions)
            {
                offers.Add(new TlsOffer($"{versionName} {suiteName}", TlsPolicy.Legacy with { MinimumVersion = version, MaximumVersion = version, CipherSuites = [suite] }));
            }
        }

        return offers;
    }
}
