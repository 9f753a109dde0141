using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.Tls;

namespace SmtpLens.Policy;

/// <summary><see cref="ChainCheck"/> results and leaf summaries per chain fingerprint and trust store.</summary>
/// <remarks>perf: every intercepted session's policies judge the upstream's chain, and a relay sees the same few
/// chains in every session. Building an X509Chain (OpenSSL copies the whole system store into a new store each time)
/// and parsing the leaf cost about 0.6 ms per session. A result is reused until a certificate involved crosses a
/// validity boundary or <see cref="Lifetime"/> passes (so trust-store changes are seen). Bounded: full, it starts
/// over.</remarks>
internal sealed class ChainCheckCache(int capacity = 256)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public TimeSpan Lifetime { get; init; } = TimeSpan.FromMinutes(10);

    public int Count => _entries.Count;

    /// <summary>The chain's check against <paramref name="anchors"/> at <paramref name="now"/>, and its leaf's summary
    /// (null for an empty chain).</summary>
    public (ChainCheck Check, CertificateSummary? Leaf) Get(IReadOnlyList<byte[]> chainDer, IReadOnlyList<X509Certificate2>? anchors, DateTimeOffset now)
    {
        if (chainDer.Count == 0)
        {
            return (ChainCheck.Run(chainDer, anchors, now), null);
        }

        var key = UpstreamChainCache.Fingerprint(chainDer);
        if (_entries.TryGetValue(key, out var entry) && ReferenceEquals(entry.Anchors, anchors) && now >= entry.CheckedAt && now < entry.HoldsUntil)
        {
            return (entry.Check, entry.Leaf);
        }

        var check = ChainCheck.Run(chainDer, anchors, now, out var holdsUntil);
        var leaf = entry is not null && ReferenceEquals(entry.Anchors, anchors) ? entry.Leaf : CertificateSummary.FromDer(chainDer[0]);
        if (_entries.Count >= capacity)
        {
            _entries.Clear();
        }

        var lifetimeEnd = now + Lifetime;
        _entries[key] = new Entry(anchors, check, leaf, now, holdsUntil < lifetimeEnd ? holdsUntil : lifetimeEnd);
        return (check, leaf);
    }

    private sealed record Entry(IReadOnlyList<X509Certificate2>? Anchors, ChainCheck Check, CertificateSummary Leaf, DateTimeOffset CheckedAt, DateTimeOffset HoldsUntil);
}
