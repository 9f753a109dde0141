using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.Tls;

/// <summary>Checks the upstream's chain against the system trust store and its names against the host.</summary>
/// <remarks>Recorded, not enforced, unless --verify-upstream: the admin needs to see a bad certificate, and
/// the real sender may not check either.</remarks>
internal static class UpstreamValidation
{
    /// <param name="anchors">Extra roots (--upstream-ca), for upstreams under a private PKI; tried after the system store.</param>
    public static void Check(TlsLegRecord record, IReadOnlyList<byte[]> chainDer, string? hostName, DateTimeOffset now, IReadOnlyList<X509Certificate2>? anchors = null)
    {
        if (chainDer.Count == 0)
        {
            record.ChainTrusted = false;
            record.ChainStatus = "no certificate presented";
            return;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(chainDer[0]);
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        var extras = chainDer.Skip(1).Select(X509CertificateLoader.LoadCertificate).ToList();
        chain.ChainPolicy.ExtraStore.AddRange(extras.ToArray());
        record.ChainTrusted = chain.Build(leaf);
        record.ChainStatus = record.ChainTrusted == true
            ? "trusted by the system store"
            : string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation.Trim()}").Distinct());
        if (record.ChainTrusted != true && anchors is { Count: > 0 })
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            custom.ChainPolicy.VerificationTime = now.UtcDateTime;
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(anchors.ToArray());
            custom.ChainPolicy.ExtraStore.AddRange(extras.ToArray());
            if (custom.Build(leaf))
            {
                record.ChainTrusted = true;
                record.ChainStatus = $"trusted by --upstream-ca ({custom.ChainElements[^1].Certificate.Subject})";
            }
            else
            {
                record.ChainStatus += $"; not trusted by --upstream-ca either ({string.Join("; ", custom.ChainStatus.Select(s => s.Status).Distinct())})";
            }
        }
        foreach (var extra in extras)
        {
            extra.Dispose();
        }

        if (hostName is not null)
        {
            record.NameChecked = hostName;
            record.NameMatches = record.ServerCertificates.Count > 0 && record.ServerCertificates[0].Matches(hostName);
        }
    }
}
