using System.Security.Cryptography.X509Certificates;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Policy;

/// <summary>What the DNS said about DANE for one MX host (RFC 7672 2.2): the address records' AD bit, then the TLSA RRset.</summary>
/// <param name="Problem">A lookup that failed (timeout, SERVFAIL): Postfix defers rather than guess.</param>
internal sealed record DaneLookup(string TlsaName, string Resolver, bool AddressSigned, DnsAnswer? Tlsa, string? Problem);

/// <summary>What an MTA-STS sender learned about the next-hop domain: the TXT record, then the policy fetched over HTTPS.</summary>
internal sealed record MtaStsLookup(string Domain, string Resolver, string? TxtId, string? TxtProblem, MtaStsPolicy? Policy, string? FetchProblem)
{
    /// <summary>The fetch failed with a bad policy body (sts-policy-invalid), rather than an HTTP or TLS error (sts-policy-fetch-error).</summary>
    public bool PolicyInvalid { get; init; }

    /// <summary>The policy came from the per-domain cache (RFC 8461 5.1), not from a fetch made for this session.</summary>
    public bool FromCache { get; init; }
}

/// <summary>How the policies are evaluated: the user's settings, shared by every session.</summary>
internal sealed record PolicySettings
{
    public const string MatchHostname = "hostname";
    public const string MatchNextHop = "nexthop";
    public const string MatchDotNextHop = "dot-nexthop";

    /// <summary>The --policy-ca-file roots for verify, secure, MTA-STS and Exchange's validation; null: the system store.</summary>
    public IReadOnlyList<X509Certificate2>? Anchors { get; init; }

    /// <summary>Chain checks already made against <see cref="Anchors"/>, shared by every session.</summary>
    public ChainCheckCache Chains { get; init; } = new();

    /// <summary>A description of the trust store, for the verdicts' facts.</summary>
    public string AnchorsText { get; init; } = "system trust store";

    /// <summary>Postfix smtp_tls_verify_cert_match (default: hostname).</summary>
    public IReadOnlyList<string> VerifyMatch { get; init; } = [MatchHostname];

    /// <summary>Postfix smtp_tls_secure_cert_match (default: nexthop, dot-nexthop).</summary>
    public IReadOnlyList<string> SecureMatch { get; init; } = [MatchNextHop, MatchDotNextHop];

    /// <summary>The policies the real sender uses (--sender-policy): their failures raise TLS_POLICY_WOULD_FAIL.</summary>
    public IReadOnlyList<string> SenderPolicies { get; init; } = [];

    /// <summary>The TlsDomain values to evaluate exo:DomainValidation for (from --sender-policy exo:DomainValidation:D).</summary>
    public IReadOnlyList<string> ExoTlsDomains => [.. SenderPolicies.Where(p => p.StartsWith(PolicyIds.ExoDomainValidationPrefix, StringComparison.Ordinal)).Select(p => p[PolicyIds.ExoDomainValidationPrefix.Length..])];

    /// <summary>Make DNS and HTTPS lookups for DANE and MTA-STS (off: those policies are not-applicable).</summary>
    public bool Lookups { get; init; }

    /// <summary>The next-hop domain (--next-hop); null: the MX host itself, as Postfix does for a [host] destination.</summary>
    public string? NextHop { get; init; }

    /// <summary>The MX host name (--mx-host); null: the upstream's host name.</summary>
    public string? MxHost { get; init; }

    /// <summary>Where lookups go and how long they may take.</summary>
    public PolicyLookupSettings LookupSettings { get; init; } = new();

    /// <summary>Parses smtp_tls_*_cert_match style lists ("nexthop, dot-nexthop").</summary>
    public static IReadOnlyList<string> ParseMatch(string text)
    {
        var parts = text.Split([',', ' ', ':'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => p.ToLowerInvariant()).ToList();
        var bad = parts.FirstOrDefault(p => p is not (MatchHostname or MatchNextHop or MatchDotNextHop));
        return bad is not null || parts.Count == 0 ? throw new FormatException($"\"{text}\": cert match strategies are hostname, nexthop and dot-nexthop") : parts;
    }
}
