using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.Tls;

/// <summary>Checks the upstream's chain against the system trust store and its names against the host.</summary>
/// <remarks>Recorded, not enforced, unless --verify-upstream: the admin needs to see a bad certificate, and
/// the real sender may not check either.</remarks>
internal static class UpstreamValidation
{
    /// <param name="anchors">Extra roots (--upstream-ca), for upstreams under a private PKI; tried after the system store.</param>
    /// <param name="cached">This chain's entry in an <see cref="UpstreamChainCache"/> (same anchors every time): a
    /// verdict still valid at <paramref name="now"/> is reused, a new one is stored.</param>
    public static void Check(TlsLegRecord record, IReadOnlyList<byte[]> chainDer, string? hostName, DateTimeOffset now, IReadOnlyList<X509Certificate2>? anchors = null, UpstreamChainCache.Entry? cached = null)
    {
        if (chainDer.Count == 0)
        {
            record.ChainTrusted = false;
            record.ChainStatus = "no certificate presented";
            return;
        }

        if (cached?.Verdict is { } verdict && now >= verdict.CheckedAt && now < verdict.ValidUntil)
        {
            record.ChainTrusted = verdict.Trusted;
            record.ChainStatus = verdict.Status;
        }
        else
        {
            var validUntil = CheckChain(record, chainDer, now, anchors);
            if (cached is not null)
            {
                cached.Verdict = new ChainVerdict(record.ChainTrusted == true, record.ChainStatus!, now, Min(validUntil, now + cached.Lifetime));
            }
        }

        if (hostName is not null)
        {
            record.NameChecked = hostName;
            record.NameMatches = record.ServerCertificates.Count > 0 && record.ServerCertificates[0].Matches(hostName);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <returns>The first validity boundary (notBefore or notAfter of a certificate involved) after
    /// <paramref name="now"/>: the verdict cannot change before it, apart from changes to the trust store.</returns>
    private static DateTimeOffset CheckChain(TlsLegRecord record, IReadOnlyList<byte[]> chainDer, DateTimeOffset now, IReadOnlyList<X509Certificate2>? anchors)
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

        using var leaf = X509CertificateLoader.LoadCertificate(chainDer[0]);
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        var extras = chainDer.Skip(1).Select(X509CertificateLoader.LoadCertificate).ToList();
        chain.ChainPolicy.ExtraStore.AddRange(extras.ToArray());
        record.ChainTrusted = chain.Build(leaf);
        Boundaries(leaf);
        extras.ForEach(Boundaries);
        foreach (var element in chain.ChainElements)
        {
            Boundaries(element.Certificate);
        }

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
            foreach (var anchor in anchors)
            {
                Boundaries(anchor);
            }

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

        return boundary;
    }
}

/// <summary>A chain's validation result and how long it holds.</summary>
internal sealed record ChainVerdict(bool Trusted, string Status, DateTimeOffset CheckedAt, DateTimeOffset ValidUntil);

/// <summary>Upstream chains already seen, per chain fingerprint (SHA-256 over every certificate's DER): their
/// certificate summaries and validation verdict.</summary>
/// <remarks>perf: a relay sees the same few upstream chains in every session, and building an X509Chain and parsing
/// each certificate cost about a millisecond per session. A verdict is reused until a certificate involved crosses a
/// validity boundary or <see cref="Lifetime"/> passes (so trust-store changes are seen). One cache per set of trust
/// anchors: the interceptor owns one. Bounded: full, it starts over.</remarks>
internal sealed class UpstreamChainCache(int capacity = 1024)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public TimeSpan Lifetime { get; init; } = TimeSpan.FromMinutes(10);

    public int Count => _entries.Count;

    public Entry For(IReadOnlyList<byte[]> chainDer)
    {
        var key = Fingerprint(chainDer);
        if (_entries.TryGetValue(key, out var entry))
        {
            return entry;
        }

        if (_entries.Count >= capacity)
        {
            _entries.Clear();
        }

        return _entries.GetOrAdd(key, _ => new Entry([.. chainDer.Select(CertificateSummary.FromDer)], Lifetime));
    }

    /// <summary>SHA-256 over every certificate's DER, length-prefixed, as hex.</summary>
    public static string Fingerprint(IReadOnlyList<byte[]> chainDer)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var der in chainDer)
        {
            // Length-prefixed, so two chains cannot hash alike by moving bytes from one certificate to the next.
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, der.Length);
            hash.AppendData(length);
            hash.AppendData(der);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    internal sealed class Entry(IReadOnlyList<CertificateSummary> summaries, TimeSpan lifetime)
    {
        public IReadOnlyList<CertificateSummary> Summaries => summaries;

        public TimeSpan Lifetime => lifetime;

        /// <summary>Replaced whole, so a reader sees one verdict or the other, never half of each.</summary>
        public ChainVerdict? Verdict { get; set; }
    }
}
