using SmtpLens.Findings;
using SmtpLens.Tls;

namespace SmtpLens.Policy;

/// <summary>What each sending policy would have decided about one observed upstream: pure code over the recorded
/// handshake and the looked-up DNS and MTA-STS data. One verdict per policy; the reason is the sender's own.</summary>
internal static class PolicyEvaluator
{
    private const string ExoPrefix = "451 4.4.0 Primary target IP address responded with: ";

    private enum DaneState
    {
        NotLooked,
        LookupError,
        Insecure,
        NoRecords,
        AllUnusable,
        Usable,
    }

    public static IReadOnlyList<PolicyVerdict> Evaluate(UpstreamObservation o, PolicySettings settings, DaneLookup? dane, MtaStsLookup? sts, DateTimeOffset now)
    {
        var (chain, leaf) = o.HandshakeCompleted ? settings.Chains.Get(o.Chain, settings.Anchors, now) : default;
        var ctx = new Context(o, settings, chain, leaf, now);
        var verdicts = new List<PolicyVerdict>
        {
            new(PolicyIds.PostfixNone, Verdict.Pass, "TLS disabled (smtp_tls_security_level = none): Postfix delivers in plaintext", ctx.Facts()),
            PostfixMay(ctx),
            PostfixEncrypt(ctx, PolicyIds.PostfixEncrypt),
        };
        var (daneState, daneFacts, usable) = Dane(dane, settings.Lookups);
        var postfixDane = PostfixDane(ctx, daneState, daneFacts, usable);
        verdicts.Add(postfixDane);
        verdicts.Add(PostfixVerify(ctx, PolicyIds.PostfixVerify, settings.VerifyMatch));
        verdicts.Add(PostfixVerify(ctx, PolicyIds.PostfixSecure, settings.SecureMatch));
        var rfcDane = RfcDane(ctx, daneState, daneFacts, usable);
        verdicts.Add(rfcDane);
        verdicts.Add(MtaSts(ctx, sts, settings.Lookups, daneState == DaneState.Usable ? rfcDane : null));
        verdicts.Add(Exo(ctx, PolicyIds.ExoEncryptionOnly, checkChain: false, tlsDomain: null));
        verdicts.Add(Exo(ctx, PolicyIds.ExoCertificateValidation, checkChain: true, tlsDomain: null));
        verdicts.AddRange(settings.ExoTlsDomains.Select(d => Exo(ctx, PolicyIds.ExoDomainValidationPrefix + d, checkChain: true, tlsDomain: d)));
        verdicts.Add(ExoInbound(ctx));
        return [.. verdicts.Select(v => settings.SenderPolicies.Contains(v.Policy, StringComparer.OrdinalIgnoreCase) ? v with { Sender = true } : v)];
    }

    private sealed record Context(UpstreamObservation O, PolicySettings Settings, ChainCheck? Chain, CertificateSummary? Leaf, DateTimeOffset Now)
    {
        public bool NotOffered => !O.ImplicitTls && !O.StartTlsOffered && !O.TlsAttempted;

        /// <summary>STARTTLS was offered, but the sender of this session never started TLS: no handshake to judge.</summary>
        public bool NotAttempted => !O.TlsAttempted && !NotOffered;

        public IReadOnlyList<string> CertNames => Leaf is null ? [] : [.. Leaf.DnsNames];

        public Dictionary<string, object?> Facts(Dictionary<string, object?>? extra = null)
        {
            var facts = new Dictionary<string, object?>
            {
                ["mxHost"] = O.MxHost,
                ["nextHop"] = O.NextHop,
                ["starttlsOffered"] = O.StartTlsOffered || O.ImplicitTls,
                ["tls"] = O.HandshakeCompleted ? $"{O.Version} {O.CipherSuite}" : O.TlsAttempted ? $"failed: {O.HandshakeFailure}" : "not started",
            };
            foreach (var (k, v) in extra ?? [])
            {
                facts[k] = v;
            }

            return facts;
        }
    }

    /// <summary>The TLS gate every mandatory level shares; null when TLS was established.</summary>
    private static PolicyVerdict? RequireTls(Context c, string id, Func<string, string> notOffered, Func<string, string> failed, Dictionary<string, object?>? facts = null)
    {
        if (c.NotOffered)
        {
            return new(id, Verdict.Fail, notOffered(c.O.HostText), c.Facts(With(facts, "resultType", "starttls-not-supported")));
        }

        if (c.NotAttempted)
        {
            return new(id, Verdict.NotApplicable, "STARTTLS was offered, but this session's sender did not start TLS: the handshake this policy would judge was not observed", c.Facts(facts));
        }

        return !c.O.HandshakeCompleted ? new(id, Verdict.Fail, failed(c.O.HandshakeFailure ?? "handshake failure"), c.Facts(With(facts, "resultType", "validation-failure"))) : null;
    }

    private static Dictionary<string, object?> With(Dictionary<string, object?>? facts, string key, object? value)
    {
        var copy = new Dictionary<string, object?>(facts ?? []) { [key] = value };
        return copy;
    }

    private static string PostfixNotOffered(string host) => $"TLS is required, but was not offered by host {host}";

    private static string PostfixHandshake(string why) => $"Cannot start TLS: handshake failure ({why})";

    private static PolicyVerdict PostfixMay(Context c)
    {
        const string id = PolicyIds.PostfixMay;
        if (c.NotOffered)
        {
            return new(id, Verdict.Pass, "STARTTLS not offered: Postfix delivers in plaintext (level may)", c.Facts());
        }

        if (c.NotAttempted)
        {
            return new(id, Verdict.Pass, "STARTTLS offered: Postfix would use TLS without checking the certificate (level may)", c.Facts());
        }

        return c.O.HandshakeCompleted
            ? new(id, Verdict.Pass, $"Untrusted TLS connection established ({c.O.Version} {c.O.CipherSuite}): the certificate is not checked at level may", c.Facts())
            : new(id, Verdict.Pass, $"TLS handshake failed ({c.O.HandshakeFailure}): Postfix retries the delivery in plaintext (level may)", c.Facts());
    }

    private static PolicyVerdict PostfixEncrypt(Context c, string id, string prefix = "", Dictionary<string, object?>? facts = null) =>
        RequireTls(c, id, h => prefix + PostfixNotOffered(h), w => prefix + PostfixHandshake(w), facts)
        ?? new(id, Verdict.Pass, $"{prefix}TLS connection established ({c.O.Version} {c.O.CipherSuite}): the certificate is not checked at level encrypt", c.Facts(facts));

    private static PolicyVerdict PostfixVerify(Context c, string id, IReadOnlyList<string> strategies)
    {
        var facts = new Dictionary<string, object?> { ["certMatch"] = strategies, ["trustStore"] = c.Settings.AnchorsText };
        if (RequireTls(c, id, PostfixNotOffered, PostfixHandshake, facts) is { } gate)
        {
            return gate;
        }

        facts["certificateNames"] = c.CertNames;
        if (c.Chain is { Valid: false } chain)
        {
            facts["resultType"] = chain.Trusted ? "certificate-expired" : "certificate-not-trusted";
            facts["detail"] = $"certificate verification failed for {c.O.HostText}: {chain.OpenSslProblem}";
            return new(id, Verdict.Fail, $"Server certificate not verified ({chain.OpenSslProblem})", c.Facts(facts));
        }

        var targets = MatchTargets(c.O, strategies);
        facts["matchedAgainst"] = targets.Select(t => t.Text).ToList();
        var hit = targets.FirstOrDefault(t => c.CertNames.Any(n => t.Matches(n)));
        if (hit.Text is null)
        {
            facts["resultType"] = "certificate-host-mismatch";
            return new(id, Verdict.Fail, $"Server certificate not verified (hostname mismatch: the certificate names {Names(c.CertNames)}; {string.Join(", ", strategies)} means {string.Join(" or ", targets.Select(t => t.Text))})", c.Facts(facts));
        }

        return new(id, Verdict.Pass, $"Verified TLS connection established: trusted by the {c.Settings.AnchorsText}, certificate name matches {hit.Text}", c.Facts(facts));
    }

    /// <summary>Postfix's match strategies as (description, test on one certificate name).</summary>
    private static List<(string Text, Func<string, bool> Matches)> MatchTargets(UpstreamObservation o, IReadOnlyList<string> strategies)
    {
        var list = new List<(string, Func<string, bool>)>();
        foreach (var s in strategies.Distinct())
        {
            switch (s)
            {
                case PolicySettings.MatchHostname:
                    list.Add((o.MxHost, n => CertificateDetector.Covers([n], o.MxHost)));
                    break;
                case PolicySettings.MatchNextHop:
                    list.Add((o.NextHop, n => CertificateDetector.Covers([n], o.NextHop)));
                    break;
                case PolicySettings.MatchDotNextHop:
                    // A name strictly below the next-hop domain; a wildcard counts through its own domain.
                    list.Add(("*." + o.NextHop.TrimEnd('.'), n => n.TrimStart('*').TrimStart('.').EndsWith("." + o.NextHop.TrimEnd('.'), StringComparison.OrdinalIgnoreCase)
                        || (n.StartsWith("*.", StringComparison.Ordinal) && n[2..].Equals(o.NextHop.TrimEnd('.'), StringComparison.OrdinalIgnoreCase))));
                    break;
            }
        }

        return list;
    }

    private static string Names(IReadOnlyList<string> names) => names.Count == 0 ? "no DNS name" : string.Join(", ", names);

    private static (DaneState State, Dictionary<string, object?> Facts, IReadOnlyList<Net.Resolver.TlsaRecordData> Usable) Dane(DaneLookup? lookup, bool lookups)
    {
        if (lookup is null)
        {
            return (DaneState.NotLooked, new() { ["lookups"] = lookups }, []);
        }

        var facts = new Dictionary<string, object?>
        {
            ["tlsaName"] = lookup.TlsaName,
            ["resolver"] = lookup.Resolver,
            ["addressSigned"] = lookup.AddressSigned,
            ["tlsaAuthentic"] = lookup.Tlsa?.Authentic,
            ["tlsa"] = lookup.Tlsa?.Tlsa.Select(t => t.Describe()).ToList(),
        };
        if (lookup.Problem is not null)
        {
            facts["lookupError"] = lookup.Problem;
            return (DaneState.LookupError, facts, []);
        }

        if (!lookup.AddressSigned || lookup.Tlsa is { Authentic: false, Tlsa.Count: > 0 })
        {
            return (DaneState.Insecure, facts, []);
        }

        if (lookup.Tlsa is null || lookup.Tlsa.Tlsa.Count == 0)
        {
            return (DaneState.NoRecords, facts, []);
        }

        var usable = lookup.Tlsa.Tlsa.Where(DaneMatch.Usable).ToList();
        facts["unusable"] = lookup.Tlsa.Tlsa.Where(t => !DaneMatch.Usable(t)).Select(t => $"{t.Describe()}: {DaneMatch.WhyUnusable(t)}").ToList();
        return (usable.Count == 0 ? DaneState.AllUnusable : DaneState.Usable, facts, usable);
    }

    private static string DaneNone(DaneState state, Dictionary<string, object?> facts) => state switch
    {
        DaneState.NotLooked => "TLSA not looked up (lookups are off: --policy-lookups)",
        DaneState.Insecure => $"the MX host's address or TLSA records are not DNSSEC-validated (AD not set by {facts["resolver"]}): no DANE",
        _ => $"no TLSA records at {facts["tlsaName"]} (signed zone, per {facts["resolver"]}): no DANE",
    };

    private static PolicyVerdict PostfixDane(Context c, DaneState state, Dictionary<string, object?> facts, IReadOnlyList<Net.Resolver.TlsaRecordData> usable)
    {
        const string id = PolicyIds.PostfixDane;
        switch (state)
        {
            case DaneState.NotLooked:
                return new(id, Verdict.NotApplicable, DaneNone(state, facts), c.Facts(facts));
            case DaneState.LookupError:
                return new(id, Verdict.Fail, $"TLSA lookup error for {c.O.MxHost}:25 ({facts["lookupError"]})", c.Facts(With(facts, "resultType", "dnssec-invalid")));
            case DaneState.Insecure or DaneState.NoRecords:
                var may = PostfixMay(c);
                return may with { Policy = id, Reason = $"{DaneNone(state, facts)}; level may applies: {may.Reason}", Fields = c.Facts(facts) };
            case DaneState.AllUnusable:
                return PostfixEncrypt(c, id, "all TLSA records are unusable: mandatory unauthenticated TLS: ", facts);
        }

        if (RequireTls(c, id, PostfixNotOffered, PostfixHandshake, facts) is { } gate)
        {
            return gate;
        }

        var outcome = DaneMatch.Authenticate(usable, c.O.Chain, [c.O.MxHost, c.O.NextHop], c.Now);
        facts["matched"] = outcome.Matched?.Describe();
        facts["detail"] = outcome.Detail;
        facts["sni"] = c.O.Sni;
        return outcome.Authenticated
            ? new(id, Verdict.Pass, $"Verified TLS connection established: {outcome.Detail}", c.Facts(facts))
            : new(id, Verdict.Fail, $"Server certificate not trusted ({outcome.Detail})", c.Facts(With(facts, "resultType", "tlsa-invalid")));
    }

    private static PolicyVerdict RfcDane(Context c, DaneState state, Dictionary<string, object?> facts, IReadOnlyList<Net.Resolver.TlsaRecordData> usable)
    {
        const string id = PolicyIds.Dane;
        var postfix = PostfixDane(c, state, facts, usable);
        return state switch
        {
            DaneState.NotLooked or DaneState.Insecure or DaneState.NoRecords => new(id, Verdict.NotApplicable, DaneNone(state, facts), c.Facts(facts)),
            DaneState.AllUnusable when postfix.Verdict == Verdict.Pass => postfix with { Policy = id, Reason = "all TLSA records are unusable: TLS is required but not authenticated (RFC 7672 2.2), and TLS was established" },
            _ => postfix with { Policy = id },
        };
    }

    private static PolicyVerdict MtaSts(Context c, MtaStsLookup? sts, bool lookups, PolicyVerdict? dane)
    {
        const string id = PolicyIds.MtaSts;
        if (sts is null)
        {
            return new(id, Verdict.NotApplicable, "MTA-STS not looked up (lookups are off: --policy-lookups)", c.Facts(new() { ["lookups"] = lookups }));
        }

        var facts = new Dictionary<string, object?> { ["policyDomain"] = sts.Domain, ["resolver"] = sts.Resolver, ["stsId"] = sts.TxtId, ["fromCache"] = sts.FromCache };
        if (sts.TxtId is null)
        {
            return new(id, Verdict.NotApplicable, $"no MTA-STS policy for {sts.Domain} ({sts.TxtProblem})", c.Facts(With(facts, "resultType", "no-policy-found")));
        }

        if (sts.Policy is not { } policy)
        {
            facts["resultType"] = sts.PolicyInvalid ? "sts-policy-invalid" : "sts-policy-fetch-error";
            return new(id, Verdict.NotApplicable, $"the MTA-STS policy for {sts.Domain} could not be used ({sts.FetchProblem}): the sender treats the domain as having no policy (RFC 8461 5)", c.Facts(facts));
        }

        facts["mode"] = policy.ModeName;
        facts["mx"] = policy.Mx;
        facts["maxAge"] = policy.MaxAge;
        if (policy.Mode == MtaStsMode.None)
        {
            return new(id, Verdict.NotApplicable, $"policy mode none for {sts.Domain}: nothing is enforced", c.Facts(facts));
        }

        var (failure, resultType) = StsFailure(c, policy);
        PolicyVerdict verdict;
        if (failure is null)
        {
            verdict = new(id, Verdict.Pass, $"mode {policy.ModeName}: MX host {c.O.MxHost} matches the policy, TLS established, certificate valid for it", c.Facts(facts));
        }
        else if (policy.Mode == MtaStsMode.Testing)
        {
            facts["resultType"] = resultType;
            facts["wouldFailUnderEnforce"] = true;
            verdict = new(id, Verdict.Pass, $"mode testing: the sender delivers anyway and reports the failure: {failure}", c.Facts(facts));
        }
        else
        {
            facts["resultType"] = resultType;
            verdict = new(id, Verdict.Fail, $"mode enforce: {failure}", c.Facts(facts));
        }

        if (dane is not null)
        {
            // RFC 8461 2: a sender that does DANE uses it and ignores MTA-STS; a DANE fail is never overridden.
            var disagree = (dane.Verdict == Verdict.Fail) != (verdict.Verdict == Verdict.Fail);
            var extra = new Dictionary<string, object?>(verdict.Fields) { ["daneApplies"] = true, ["daneVerdict"] = dane.VerdictName, ["daneDisagrees"] = disagree };
            verdict = verdict with
            {
                Fields = extra,
                Reason = verdict.Reason + (disagree ? $" (DANE disagrees: {dane.VerdictName}; a DANE sender follows DANE, RFC 8461 2)" : " (DANE agrees)"),
            };
        }

        return verdict;
    }

    private static (string? Failure, string? ResultType) StsFailure(Context c, MtaStsPolicy policy)
    {
        if (!policy.Covers(c.O.MxHost))
        {
            return ($"MX host {c.O.MxHost} matches none of the policy's mx patterns ({string.Join(", ", policy.Mx)})", "validation-failure");
        }

        if (c.NotOffered)
        {
            return ($"STARTTLS not offered by {c.O.HostText}", "starttls-not-supported");
        }

        if (c.NotAttempted)
        {
            return (null, null);
        }

        if (!c.O.HandshakeCompleted)
        {
            return ($"TLS handshake failed ({c.O.HandshakeFailure})", "validation-failure");
        }

        if (c.Chain is { Valid: false } chain)
        {
            return ($"certificate not valid: {chain.OpenSslProblem}", chain.Trusted ? "certificate-expired" : "certificate-not-trusted");
        }

        return !CertificateDetector.Covers(c.CertNames, c.O.MxHost)
            ? ($"certificate names {Names(c.CertNames)}, not the MX host {c.O.MxHost}", "certificate-host-mismatch")
            : (null, null);
    }

    private static string ExoNotOffered(string host) => ExoPrefix + "\"451 5.7.3 STARTTLS is required to send mail\" (TLS is required on the connector, and " + host + " did not offer STARTTLS)";

    private static string ExoNegotiation(string error) => ExoPrefix + $"\"TLS negotiation failed with error {error}\"";

    private static PolicyVerdict Exo(Context c, string id, bool checkChain, string? tlsDomain)
    {
        var facts = new Dictionary<string, object?> { ["tlsDomain"] = tlsDomain, ["trustStore"] = checkChain ? c.Settings.AnchorsText : null };
        if (RequireTls(c, id, ExoNotOffered, w => ExoNegotiation($"SocketError ({w})"), facts) is { } gate)
        {
            return gate;
        }

        if (checkChain && c.Chain is { Valid: false } chain)
        {
            facts["detail"] = chain.OpenSslProblem;
            return new(id, Verdict.Fail, ExoNegotiation($"{chain.ExchangeProblem} ({chain.OpenSslProblem})"), c.Facts(With(facts, "resultType", chain.Trusted ? "certificate-expired" : "certificate-not-trusted")));
        }

        if (tlsDomain is not null && !CoversTlsDomain(c.CertNames, tlsDomain))
        {
            return new(id, Verdict.Fail, ExoNegotiation($"SubjectMismatch (the certificate names {Names(c.CertNames)}, the connector's TlsDomain is {tlsDomain})"), c.Facts(With(facts, "resultType", "certificate-host-mismatch")));
        }

        return new(id, Verdict.Pass, tlsDomain is not null ? $"TLS established, certificate trusted and it names {tlsDomain}"
            : checkChain ? "TLS established and the certificate chain is trusted (the name is not checked with CertificateValidation)"
            : "TLS established (EncryptionOnly checks no certificate)", c.Facts(facts));
    }

    /// <summary>A TlsDomain is a name or a wildcard (*.contoso.com): a wildcard accepts any certificate name in that domain.</summary>
    private static bool CoversTlsDomain(IReadOnlyList<string> names, string tlsDomain) =>
        tlsDomain.StartsWith("*.", StringComparison.Ordinal)
            ? names.Any(n => n.Equals(tlsDomain, StringComparison.OrdinalIgnoreCase) || n.EndsWith(tlsDomain[1..], StringComparison.OrdinalIgnoreCase))
            : CertificateDetector.Covers(names, tlsDomain);

    private static PolicyVerdict ExoInbound(Context c)
    {
        const string id = PolicyIds.ExoInbound;
        var facts = new Dictionary<string, object?>
        {
            ["trustStore"] = c.Settings.AnchorsText,
            ["announcedNames"] = c.O.AnnouncedNames.Select(n => $"{n.Name} ({n.Role})").ToList(),
            ["crl"] = c.O.Revocation is { } r ? r.Detail : "not checked (run with --check-revocation)",
        };
        if (RequireTls(c, id, ExoNotOffered, w => ExoNegotiation($"SocketError ({w})"), facts) is { } gate)
        {
            return gate;
        }

        if (c.Chain is { Valid: false } chain)
        {
            return new(id, Verdict.Fail, ExoNegotiation($"{chain.ExchangeProblem} ({chain.OpenSslProblem}; Exchange Online needs a certificate from a trusted third-party CA)"), c.Facts(facts));
        }

        var missing = c.O.AnnouncedNames.Where(n => !CertificateDetector.Covers(c.CertNames, n.Name)).ToList();
        if (missing.Count > 0)
        {
            facts["finding"] = FindingCodes.EhloNameNotInCertificate;
            return new(id, Verdict.Fail, ExoNegotiation($"SubjectMismatch (the server calls itself {string.Join(", ", missing.Select(m => $"{m.Name} ({m.Role})"))}, the certificate names {Names(c.CertNames)})"), c.Facts(facts));
        }

        if (c.O.Revocation is { } revocation && (!revocation.CrlReachable || revocation.Revoked))
        {
            return new(id, Verdict.Fail, ExoNegotiation($"{(revocation.Revoked ? "Revoked" : "RevocationStatusUnknown")} ({revocation.Detail})"), c.Facts(facts));
        }

        return new(id, Verdict.Pass, $"certificate trusted, names {(c.O.AnnouncedNames.Count == 0 ? "(no name announced to compare)" : string.Join(", ", c.O.AnnouncedNames.Select(n => n.Name).Distinct(StringComparer.OrdinalIgnoreCase)))}; CRL {(c.O.Revocation is { } checkedCrl ? $"reachable: {checkedCrl.Detail}" : "not checked")}", c.Facts(facts));
    }
}
