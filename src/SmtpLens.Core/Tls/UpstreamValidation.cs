using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.Tls;

/// <summary>Checks the upstream's chain against the system trust store and its names against the host.</summary>
/// <remarks>Recorded, not enforced, unless --verify-upstream: the admin needs to see a bad certificate, and
/// the real sender may not check either.</remarks>
internal static class UpstreamValidation
{
    public static void Check(TlsLegRecord record, IReadOnlyList<byte[]> chainDer, string? hostName, DateTimeOffset now)
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
