using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.Policy;

/// <summary>PKIX validation of a presented chain against one trust store (the system's, or a CA file), with no network:
/// no AIA fetching, no revocation. Reports the failure the way OpenSSL (and so Postfix) names it.</summary>
internal sealed record ChainCheck(bool Trusted, bool Expired, bool NotYetValid, string? UntrustedIssuer, string Status)
{
    public bool Valid => Trusted && !Expired && !NotYetValid;

    /// <summary>OpenSSL's words for the first problem, as Postfix logs them after "certificate verification failed".</summary>
    public string? OpenSslProblem => !Trusted ? $"untrusted issuer {UntrustedIssuer}" : Expired ? "certificate has expired" : NotYetValid ? "certificate is not yet valid" : null;

    /// <summary>Exchange's name for the problem ("TLS negotiation failed with error UntrustedRoot").</summary>
    public string? ExchangeProblem => !Trusted ? "UntrustedRoot" : Expired || NotYetValid ? "NotTimeValid" : null;

    /// <param name="anchors">Trusted roots (a CA file), or null for the system store.</param>
    public static ChainCheck Run(IReadOnlyList<byte[]> chainDer, IReadOnlyList<X509Certificate2>? anchors, DateTimeOffset now) =>
        Run(chainDer, anchors, now, out _);

    /// <param name="holdsUntil">The first validity boundary (notBefore or notAfter of a certificate involved) after
    /// <paramref name="now"/>: the result cannot change before it, apart from changes to the trust store.</param>
    public static ChainCheck Run(IReadOnlyList<byte[]> chainDer, IReadOnlyList<X509Certificate2>? anchors, DateTimeOffset now, out DateTimeOffset holdsUntil)
    {
        var boundary = DateTimeOffset.MaxValue;
        void Boundaries(X509Certificate2 c)
        {
            foreach (var at in new[] { new DateTimeOffset(c.NotBefore.ToUniversalTime()), new DateTimeOffset(c.NotAfter.ToUniversalTime()) })
            {
                if (at > now && at < boundary)
                {
                    boundary = at;
                }
            }
        }

        holdsUntil = boundary;
        if (chainDer.Count == 0)
        {
            return new ChainCheck(false, false, false, "(no certificate presented)", "no certificate presented");
        }

        using var leaf = X509CertificateLoader.LoadCertificate(chainDer[0]);
        var extras = chainDer.Skip(1).Select(X509CertificateLoader.LoadCertificate).ToList();
        try
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.DisableCertificateDownloads = true;
            chain.ChainPolicy.VerificationTime = now.UtcDateTime;
            chain.ChainPolicy.VerificationTimeIgnored = false;
            chain.ChainPolicy.ExtraStore.AddRange(extras.ToArray());
            if (anchors is not null)
            {
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(anchors.ToArray());
            }

            var built = chain.Build(leaf);
            Boundaries(leaf);
            extras.ForEach(Boundaries);
            foreach (var element in chain.ChainElements)
            {
                Boundaries(element.Certificate);
            }

            foreach (var anchor in anchors ?? [])
            {
                Boundaries(anchor);
            }

            holdsUntil = boundary;
            var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (a, s) => a | s.Status);
            var untrusted = (flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.NotSignatureValid)) != 0;
            var timeProblem = (flags & X509ChainStatusFlags.NotTimeValid) != 0;
            var expired = timeProblem && chain.ChainElements.Any(e => e.Certificate.NotAfter.ToUniversalTime() < now.UtcDateTime);
            var notYet = timeProblem && !expired;
            var trusted = !untrusted && (built || timeProblem);
            var issuer = chain.ChainElements.Count > 0 ? "/" + chain.ChainElements[^1].Certificate.Issuer.Replace(", ", "/", StringComparison.Ordinal) : leaf.Issuer;
            var status = built ? "valid" : string.Join("; ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
            return new ChainCheck(trusted, expired, notYet, trusted ? null : issuer, status);
        }
        finally
        {
            foreach (var extra in extras)
            {
                extra.Dispose();
            }
        }
    }
}
