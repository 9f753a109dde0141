using System.CommandLine;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.Net;
using SmtpLens.Net.Resolver;
using SmtpLens.Policy;

namespace SmtpLens.Cli.Commands;

/// <summary>The sending-policy options proxy and probe share (docs/policy.md): which policies the real sender uses,
/// the names it matches, its trust store, and the DNS/HTTPS lookups DANE and MTA-STS need.</summary>
internal sealed class PolicyOptions
{
    private PolicyOptions(bool lookupsByDefault, bool ownResolverOption)
    {
        LookupsByDefault = lookupsByDefault;
        SenderPolicy = new("--sender-policy") { HelpName = "ID", Description = $"A TLS policy the real sender uses; TLS_POLICY_WOULD_FAIL is raised when it fails. Repeatable. IDs: {string.Join(", ", PolicyIds.Fixed)}, {PolicyIds.ExoDomainValidationPrefix}<TlsDomain>. No network request.", Arity = ArgumentArity.ZeroOrMore };
        NextHop = new("--next-hop") { HelpName = "DOMAIN", Description = "The next-hop (recipient) domain as Postfix matches it (secure's nexthop, dot-nexthop) and the MTA-STS policy domain (default: the MX host). No network request by itself." };
        MxHost = new("--mx-host") { HelpName = "NAME", Description = "The MX host name the sender connected to (verify's hostname, the TLSA base domain; default: the upstream's host)." };
        PolicyCa = new("--policy-ca-file") { HelpName = "FILE", Description = "PEM roots the sender trusts for postfix:verify/secure, MTA-STS and Exchange's certificate validation (default: the system store). No network request." };
        MtaStsCa = new("--mta-sts-ca-file") { HelpName = "FILE", Description = "PEM roots for the MTA-STS policy host's HTTPS certificate (default: --policy-ca-file, else the system store)." };
        VerifyMatch = new("--verify-cert-match") { HelpName = "LIST", Description = "Postfix smtp_tls_verify_cert_match (default hostname)." };
        SecureMatch = new("--secure-cert-match") { HelpName = "LIST", Description = "Postfix smtp_tls_secure_cert_match (default nexthop,dot-nexthop)." };
        Lookups = lookupsByDefault
            ? new("--no-policy-lookups") { Description = "Make no DNS or HTTPS request for DANE and MTA-STS (they become not-applicable). By default the probe asks the resolver for A/AAAA and TLSA (_25._tcp.<mx host>) and _mta-sts.<domain> TXT, and GETs https://mta-sts.<domain>/.well-known/mta-sts.txt." }
            : new("--policy-lookups") { Description = "For DANE and MTA-STS, after each session: ask the resolver (--dns-resolver) for the MX host's A/AAAA and TLSA (_25._tcp.<mx host>) records and the _mta-sts.<next hop> TXT record, and GET https://mta-sts.<next hop>/.well-known/mta-sts.txt (cached per domain for its max_age). Off by default: no request is made." };
        DnsResolver = ownResolverOption ? new("--dns-resolver") { HelpName = "IP[:PORT]", Description = "The validating resolver whose AD bit is trusted for DANE (default: the first nameserver in /etc/resolv.conf); every policy DNS query goes there, and verdicts name it." } : null;
        MtaStsConnect = new("--mta-sts-connect") { HelpName = "HOST:PORT", Description = "Fetch MTA-STS policies from HOST:PORT instead of mta-sts.<domain>:443; the name sent (SNI, Host) and checked is unchanged (for tests and split-horizon setups)." };
    }

    public bool LookupsByDefault { get; }

    public Option<string[]> SenderPolicy { get; }

    public Option<string?> NextHop { get; }

    public Option<string?> MxHost { get; }

    public Option<string?> PolicyCa { get; }

    public Option<string?> MtaStsCa { get; }

    public Option<string?> VerifyMatch { get; }

    public Option<string?> SecureMatch { get; }

    public Option<bool> Lookups { get; }

    public Option<string?>? DnsResolver { get; }

    public Option<string?> MtaStsConnect { get; }

    public IEnumerable<Option> All => new Option?[] { SenderPolicy, NextHop, MxHost, PolicyCa, MtaStsCa, VerifyMatch, SecureMatch, Lookups, DnsResolver, MtaStsConnect }.OfType<Option>();

    public static PolicyOptions ForProxy() => new(lookupsByDefault: false, ownResolverOption: true);

    public static PolicyOptions ForProbe() => new(lookupsByDefault: true, ownResolverOption: false);

    /// <summary>The settings, or a FormatException naming the bad value.</summary>
    public PolicySettings Parse(ParseResult parse, string? resolverText, TimeSpan timeout)
    {
        var senders = new List<string>();
        foreach (var id in parse.GetValue(SenderPolicy) ?? [])
        {
            senders.Add(PolicyIds.Normalize(id) ?? throw new FormatException($"--sender-policy \"{id}\" is not one of {string.Join(", ", PolicyIds.Fixed)}, {PolicyIds.ExoDomainValidationPrefix}<TlsDomain>"));
        }

        var anchors = parse.GetValue(PolicyCa) is { } ca ? LoadRoots(ca, "--policy-ca-file") : null;
        var stsAnchors = parse.GetValue(MtaStsCa) is { } stsCa ? LoadRoots(stsCa, "--mta-sts-ca-file") : anchors;
        var resolver = (DnsResolver is null ? resolverText : parse.GetValue(DnsResolver)) is { } r ? ResolvConf.ParseServer(r) : null;
        HostPort? connect = null;
        if (parse.GetValue(MtaStsConnect) is { } c)
        {
            connect = HostPort.TryParse(c, out var hp) && hp.Port > 0 ? hp : throw new FormatException($"--mta-sts-connect \"{c}\" is not HOST:PORT");
        }

        var lookups = parse.GetValue(Lookups) != LookupsByDefault;
        return new PolicySettings
        {
            SenderPolicies = senders,
            NextHop = parse.GetValue(NextHop)?.TrimEnd('.'),
            MxHost = parse.GetValue(MxHost)?.TrimEnd('.'),
            Anchors = anchors,
            AnchorsText = parse.GetValue(PolicyCa) is { } file ? $"--policy-ca-file {file}" : "system trust store",
            VerifyMatch = parse.GetValue(VerifyMatch) is { } v ? PolicySettings.ParseMatch(v) : [PolicySettings.MatchHostname],
            SecureMatch = parse.GetValue(SecureMatch) is { } s ? PolicySettings.ParseMatch(s) : [PolicySettings.MatchNextHop, PolicySettings.MatchDotNextHop],
            Lookups = lookups,
            LookupSettings = new PolicyLookupSettings { Resolver = resolver, MtaStsAnchors = stsAnchors, MtaStsConnect = connect, Timeout = timeout },
        };
    }

    private static List<X509Certificate2> LoadRoots(string path, string option)
    {
        if (!File.Exists(path))
        {
            throw new FormatException($"{option} {path}: no such file");
        }

        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(path);
        return collection.Count > 0 ? [.. collection] : throw new FormatException($"{option} {path} holds no PEM certificate");
    }
}
