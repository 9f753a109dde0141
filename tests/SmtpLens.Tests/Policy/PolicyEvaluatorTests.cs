using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.Net.Resolver;
using SmtpLens.Policy;

namespace SmtpLens.Tests.Policy;

/// <summary>Each policy's rules over recorded handshakes made of run-time certificates (no network).</summary>
public sealed class PolicyEvaluatorTests : IDisposable
{
    private const string Mx = "mx.example.test";
    private const string Domain = "example.test";
    private readonly X509Certificate2 _ca = PolicyPki.Ca("Policy Test CA");
    private readonly X509Certificate2 _otherCa = PolicyPki.Ca("Someone Else CA");

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    private PolicySettings Settings(params string[] senders) => new() { Anchors = [_ca], AnchorsText = "test CA", SenderPolicies = senders };

    private static UpstreamObservation Tls(params X509Certificate2[] chain) => new()
    {
        MxHost = Mx,
        NextHop = Domain,
        Address = "192.0.2.1",
        StartTlsOffered = true,
        TlsAttempted = true,
        HandshakeCompleted = true,
        Version = "TLS 1.2",
        CipherSuite = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Chain = [.. chain.Select(c => c.RawData)],
        AnnouncedNames = [(Mx, "banner")],
    };

    private static UpstreamObservation Plain(bool offered) => new() { MxHost = Mx, NextHop = Domain, Address = "192.0.2.1", StartTlsOffered = offered };

    private static PolicyVerdict Get(IReadOnlyList<PolicyVerdict> verdicts, string id) => Assert.Single(verdicts, v => v.Policy == id);

    private IReadOnlyList<PolicyVerdict> Run(UpstreamObservation o, PolicySettings? settings = null, DaneLookup? dane = null, MtaStsLookup? sts = null) =>
        PolicyEvaluator.Evaluate(o, settings ?? Settings(), dane, sts, PolicyPki.Now);

    [Fact]
    public void No_Starttls_None_And_May_Deliver_Every_Mandatory_Level_Fails_In_The_Senders_Words()
    {
        var v = Run(Plain(offered: false));
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixNone).Verdict);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixMay).Verdict);
        foreach (var id in new[] { PolicyIds.PostfixEncrypt, PolicyIds.PostfixVerify, PolicyIds.PostfixSecure })
        {
            var fail = Get(v, id);
            Assert.Equal(Verdict.Fail, fail.Verdict);
            Assert.Equal("TLS is required, but was not offered by host mx.example.test[192.0.2.1]", fail.Reason);
            Assert.Equal("starttls-not-supported", fail.Fields["resultType"]);
        }

        Assert.StartsWith("451 4.4.0 Primary target IP address responded with: \"451 5.7.3 STARTTLS is required to send mail\"", Get(v, PolicyIds.ExoEncryptionOnly).Reason, StringComparison.Ordinal);
        Assert.Equal(Verdict.NotApplicable, Get(v, PolicyIds.Dane).Verdict);
        Assert.Contains("--policy-lookups", Get(v, PolicyIds.MtaSts).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Offered_But_Not_Started_By_This_Sender_Is_Not_Applicable_For_Certificate_Levels()
    {
        var v = Run(Plain(offered: true));
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixMay).Verdict);
        Assert.Equal(Verdict.NotApplicable, Get(v, PolicyIds.PostfixEncrypt).Verdict);
        Assert.Equal(Verdict.NotApplicable, Get(v, PolicyIds.PostfixVerify).Verdict);
    }

    [Fact]
    public void Handshake_Failure_Fails_Encrypt_And_May_Retries_In_Plaintext()
    {
        var v = Run(Plain(offered: true) with { TlsAttempted = true, HandshakeFailure = "upstream leg: handshake_failure alert" });
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixMay).Verdict);
        Assert.Contains("retries the delivery in plaintext", Get(v, PolicyIds.PostfixMay).Reason, StringComparison.Ordinal);
        Assert.StartsWith("Cannot start TLS: handshake failure", Get(v, PolicyIds.PostfixEncrypt).Reason, StringComparison.Ordinal);
        Assert.Contains("TLS negotiation failed", Get(v, PolicyIds.ExoEncryptionOnly).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_Passes_A_Trusted_Valid_Certificate_That_Names_The_Mx_Host()
    {
        using var leaf = PolicyPki.Leaf(_ca, [Mx]);
        var v = Run(Tls(leaf, _ca));
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixEncrypt).Verdict);
        var verify = Get(v, PolicyIds.PostfixVerify);
        Assert.Equal(Verdict.Pass, verify.Verdict);
        Assert.StartsWith("Verified TLS connection established", verify.Reason, StringComparison.Ordinal);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixSecure).Verdict); // dot-nexthop: mx.example.test is below example.test
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.ExoCertificateValidation).Verdict);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.ExoInbound).Verdict);
    }

    [Fact]
    public void Verify_Fails_An_Expired_Certificate_With_Postfixs_Reason()
    {
        using var leaf = PolicyPki.Leaf(_ca, [Mx], PolicyPki.Now.AddDays(-100), PolicyPki.Now.AddDays(-10));
        var v = Run(Tls(leaf, _ca));
        var verify = Get(v, PolicyIds.PostfixVerify);
        Assert.Equal(Verdict.Fail, verify.Verdict);
        Assert.Equal("Server certificate not verified (certificate has expired)", verify.Reason);
        Assert.Equal("certificate-expired", verify.Fields["resultType"]);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixEncrypt).Verdict);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.ExoEncryptionOnly).Verdict);
        Assert.Contains("NotTimeValid", Get(v, PolicyIds.ExoCertificateValidation).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_Fails_An_Untrusted_Issuer_And_Names_It()
    {
        using var leaf = PolicyPki.Leaf(_otherCa, [Mx]);
        var verify = Get(Run(Tls(leaf, _otherCa)), PolicyIds.PostfixVerify);
        Assert.Equal(Verdict.Fail, verify.Verdict);
        Assert.StartsWith("Server certificate not verified (untrusted issuer", verify.Reason, StringComparison.Ordinal);
        Assert.Contains("Someone Else CA", verify.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_Matches_Hostname_And_Secure_Matches_Nexthop_By_Default()
    {
        // Names the domain only: secure (nexthop) accepts it, verify (hostname) does not.
        using var leaf = PolicyPki.Leaf(_ca, [Domain]);
        var v = Run(Tls(leaf, _ca));
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixSecure).Verdict);
        var verify = Get(v, PolicyIds.PostfixVerify);
        Assert.Equal(Verdict.Fail, verify.Verdict);
        Assert.StartsWith("Server certificate not verified (hostname mismatch", verify.Reason, StringComparison.Ordinal);
        Assert.Equal("certificate-host-mismatch", verify.Fields["resultType"]);

        // secure with only nexthop: mx.example.test is not example.test.
        using var mxLeaf = PolicyPki.Leaf(_ca, [Mx]);
        var strict = Run(Tls(mxLeaf, _ca), Settings() with { SecureMatch = PolicySettings.ParseMatch("nexthop") });
        Assert.Equal(Verdict.Fail, Get(strict, PolicyIds.PostfixSecure).Verdict);
    }

    [Fact]
    public void Dot_Nexthop_Needs_A_Name_Strictly_Below_The_Domain()
    {
        using var leaf = PolicyPki.Leaf(_ca, ["mx.example.test.evil.test"]);
        var v = Run(Tls(leaf, _ca));
        Assert.Equal(Verdict.Fail, Get(v, PolicyIds.PostfixSecure).Verdict);
        Assert.Throws<FormatException>(() => PolicySettings.ParseMatch("hostname, subject"));
    }

    private static DaneLookup Dane(bool signed, params TlsaRecordData[] records) =>
        new("_25._tcp.mx.example.test", "127.0.0.1:5353", signed, new DnsAnswer("_25._tcp.mx.example.test", records.Length == 0 ? DnsAnswer.NameError : DnsAnswer.NoError, signed, new IPEndPoint(IPAddress.Loopback, 5353)) { Tlsa = records }, null);

    private static byte[] Spki(X509Certificate2 c) => c.PublicKey.ExportSubjectPublicKeyInfo();

    public static TheoryData<int, int> EeForms => new() { { 0, 0 }, { 0, 1 }, { 0, 2 }, { 1, 0 }, { 1, 1 }, { 1, 2 } };

    [Theory]
    [MemberData(nameof(EeForms))]
    public void Dane_Ee_Matches_Every_Selector_And_Matching_Type_Ignoring_Name_And_Expiry(int selector, int matching)
    {
        using var leaf = PolicyPki.Leaf(null, ["wrong.name.test"], PolicyPki.Now.AddDays(-100), PolicyPki.Now.AddDays(-10));
        var selected = selector == 0 ? leaf.RawData : Spki(leaf);
        var data = matching switch { 0 => selected, 1 => SHA256.HashData(selected), _ => SHA512.HashData(selected) };
        var v = Run(Tls(leaf), dane: Dane(true, new TlsaRecordData(3, selector, matching, data)));
        var postfix = Get(v, PolicyIds.PostfixDane);
        Assert.Equal(Verdict.Pass, postfix.Verdict);
        Assert.Equal($"3 {selector} {matching} {Convert.ToHexString(data)}", postfix.Fields["matched"]);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.Dane).Verdict);
        Assert.Equal(Verdict.Fail, Get(v, PolicyIds.PostfixVerify).Verdict);
    }

    [Fact]
    public void Dane_Mismatch_Is_Not_Trusted_In_Postfixs_Words()
    {
        using var leaf = PolicyPki.Leaf(_ca, [Mx]);
        var v = Run(Tls(leaf, _ca), dane: Dane(true, new TlsaRecordData(3, 1, 1, new byte[32])));
        var postfix = Get(v, PolicyIds.PostfixDane);
        Assert.Equal(Verdict.Fail, postfix.Verdict);
        Assert.StartsWith("Server certificate not trusted (no TLSA record matches", postfix.Reason, StringComparison.Ordinal);
        Assert.Equal("tlsa-invalid", Get(v, PolicyIds.Dane).Fields["resultType"]);
    }

    [Fact]
    public void Dane_Ta_Needs_The_Name_And_A_Valid_Chain()
    {
        var taRecord = new TlsaRecordData(2, 0, 1, SHA256.HashData(_ca.RawData));
        using (var good = PolicyPki.Leaf(_ca, [Mx]))
        {
            Assert.Equal(Verdict.Pass, Get(Run(Tls(good, _ca), dane: Dane(true, taRecord)), PolicyIds.PostfixDane).Verdict);
        }

        using (var otherName = PolicyPki.Leaf(_ca, ["other.test"]))
        {
            var v = Get(Run(Tls(otherName, _ca), dane: Dane(true, taRecord)), PolicyIds.PostfixDane);
            Assert.Equal(Verdict.Fail, v.Verdict);
            Assert.Contains("hostname mismatch", v.Reason, StringComparison.Ordinal);
        }

        // The next-hop domain is a reference identifier too.
        using (var domainName = PolicyPki.Leaf(_ca, [Domain]))
        {
            Assert.Equal(Verdict.Pass, Get(Run(Tls(domainName, _ca), dane: Dane(true, taRecord)), PolicyIds.PostfixDane).Verdict);
        }

        using var expired = PolicyPki.Leaf(_ca, [Mx], PolicyPki.Now.AddDays(-100), PolicyPki.Now.AddDays(-10));
        var e = Get(Run(Tls(expired, _ca), dane: Dane(true, taRecord)), PolicyIds.PostfixDane);
        Assert.Equal(Verdict.Fail, e.Verdict);
        Assert.Contains("certificate has expired", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Dane_With_Only_Unusable_Records_Falls_Back_To_Mandatory_Unauthenticated_Tls()
    {
        using var leaf = PolicyPki.Leaf(null, ["anything.test"]);
        var pkix = Dane(true, new TlsaRecordData(1, 1, 1, SHA256.HashData(Spki(leaf))), new TlsaRecordData(0, 0, 1, new byte[32]), new TlsaRecordData(3, 1, 1, new byte[5]));
        var v = Run(Tls(leaf), dane: pkix);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.PostfixDane).Verdict);
        Assert.StartsWith("all TLSA records are unusable: mandatory unauthenticated TLS", Get(v, PolicyIds.PostfixDane).Reason, StringComparison.Ordinal);
        Assert.Equal(Verdict.Pass, Get(v, PolicyIds.Dane).Verdict);

        var plain = Run(Plain(offered: false), dane: pkix);
        Assert.Equal(Verdict.Fail, Get(plain, PolicyIds.PostfixDane).Verdict);
        Assert.Contains("TLS is required, but was not offered", Get(plain, PolicyIds.PostfixDane).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Tlsa_Counts_Only_When_The_Mx_Hosts_Addresses_Are_Signed()
    {
        using var leaf = PolicyPki.Leaf(_ca, [Mx]);
        var unsigned = Run(Tls(leaf, _ca), dane: Dane(false, new TlsaRecordData(3, 1, 1, new byte[32])));
        Assert.Equal(Verdict.Pass, Get(unsigned, PolicyIds.PostfixDane).Verdict); // level may
        Assert.Contains("not DNSSEC-validated", Get(unsigned, PolicyIds.PostfixDane).Reason, StringComparison.Ordinal);
        Assert.Equal(Verdict.NotApplicable, Get(unsigned, PolicyIds.Dane).Verdict);

        var none = Run(Plain(offered: false), dane: Dane(true));
        Assert.Equal(Verdict.Pass, Get(none, PolicyIds.PostfixDane).Verdict);
        Assert.Contains("no TLSA records", Get(none, PolicyIds.PostfixDane).Reason, StringComparison.Ordinal);

        var broken = Run(Plain(offered: true), dane: new DaneLookup("_25._tcp.mx.example.test", "127.0.0.1:5353", true, null, "SERVFAIL"));
        Assert.Equal(Verdict.Fail, Get(broken, PolicyIds.PostfixDane).Verdict);
        Assert.StartsWith("TLSA lookup error for mx.example.test:25", Get(broken, PolicyIds.PostfixDane).Reason, StringComparison.Ordinal);
    }

    private static MtaStsLookup Sts(string policyText)
    {
        var (policy, problem) = MtaStsPolicy.Parse(policyText);
        return new MtaStsLookup(Domain, "127.0.0.1:5353", "20261207", null, policy, problem) { PolicyInvalid = problem is not null };
    }

    [Fact]
    public void Mta_Sts_Enforce_Testing_None_And_Mx_Mismatch()
    {
        using var leaf = PolicyPki.Leaf(_ca, [Mx]);
        var o = Tls(leaf, _ca);
        Assert.Equal(Verdict.Pass, Get(Run(o, sts: Sts("version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 86400\n")), PolicyIds.MtaSts).Verdict);

        var mismatch = Get(Run(o, sts: Sts("version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n")), PolicyIds.MtaSts);
        Assert.Equal(Verdict.Fail, mismatch.Verdict);
        Assert.Contains("matches none of the policy's mx patterns", mismatch.Reason, StringComparison.Ordinal);

        var testing = Get(Run(o, sts: Sts("version: STSv1\nmode: testing\nmx: mail.example.test\nmax_age: 86400\n")), PolicyIds.MtaSts);
        Assert.Equal(Verdict.Pass, testing.Verdict);
        Assert.Equal(true, testing.Fields["wouldFailUnderEnforce"]);

        Assert.Equal(Verdict.NotApplicable, Get(Run(o, sts: Sts("version: STSv1\nmode: none\nmax_age: 86400\n")), PolicyIds.MtaSts).Verdict);

        var invalid = Get(Run(o, sts: Sts("version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 31557601\n")), PolicyIds.MtaSts);
        Assert.Equal(Verdict.NotApplicable, invalid.Verdict);
        Assert.Equal("sts-policy-invalid", invalid.Fields["resultType"]);
    }

    [Fact]
    public void Mta_Sts_Enforce_Fails_An_Untrusted_Certificate_And_A_Missing_Starttls()
    {
        using var leaf = PolicyPki.Leaf(_otherCa, [Mx]);
        var policy = "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 600\n";
        var untrusted = Get(Run(Tls(leaf, _otherCa), sts: Sts(policy)), PolicyIds.MtaSts);
        Assert.Equal("certificate-not-trusted", untrusted.Fields["resultType"]);
        var plain = Get(Run(Plain(offered: false), sts: Sts(policy)), PolicyIds.MtaSts);
        Assert.Equal(Verdict.Fail, plain.Verdict);
        Assert.Equal("starttls-not-supported", plain.Fields["resultType"]);
    }

    [Fact]
    public void A_Failing_Dane_Is_Never_Overridden_By_Mta_Sts_And_The_Disagreement_Is_Flagged()
    {
        using var leaf = PolicyPki.Leaf(_ca, [Mx]);
        var v = Run(Tls(leaf, _ca), dane: Dane(true, new TlsaRecordData(3, 1, 1, new byte[32])), sts: Sts("version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 600\n"));
        Assert.Equal(Verdict.Fail, Get(v, PolicyIds.Dane).Verdict);
        var sts = Get(v, PolicyIds.MtaSts);
        Assert.Equal(Verdict.Pass, sts.Verdict);
        Assert.Equal(true, sts.Fields["daneDisagrees"]);
        Assert.Contains("a DANE sender follows DANE", sts.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v=STSv1; id=20261207", "20261207", null)]
    [InlineData("v=spf1 -all|v=STSv1; id=abc", "abc", null)]
    [InlineData("v=STSv1; id=a|v=STSv1; id=b", null, "2 TXT records start with v=STSv1")]
    [InlineData("v=spf1 -all", null, "no TXT record starts with v=STSv1")]
    [InlineData("v=STSv1; id=has-dash", null, "no valid id")]
    public void Mta_Sts_Txt_Record_Needs_Exactly_One_Valid_Record(string records, string? id, string? problem)
    {
        var (parsedId, parsedProblem) = MtaStsPolicy.ParseTxt(records.Split('|'));
        Assert.Equal(id, parsedId);
        if (problem is null)
        {
            Assert.Null(parsedProblem);
        }
        else
        {
            Assert.Contains(problem, parsedProblem, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("*.example.test", "mx.example.test", true)]
    [InlineData("*.example.test", "a.mx.example.test", false)]
    [InlineData("*.example.test", "example.test", false)]
    [InlineData("mx.example.test", "MX.Example.Test.", true)]
    public void Mta_Sts_Wildcard_Covers_Exactly_One_Label(string pattern, string host, bool matches) =>
        Assert.Equal(matches, MtaStsPolicy.PatternMatches(pattern, host));

    [Fact]
    public void Exchange_Domain_Validation_Checks_The_Tls_Domain_Only()
    {
        using var leaf = PolicyPki.Leaf(_ca, [Mx]);
        var settings = Settings("exo:DomainValidation:contoso.com", "exo:DomainValidation:*.example.test");
        var v = Run(Tls(leaf, _ca), settings);
        var contoso = Get(v, "exo:DomainValidation:contoso.com");
        Assert.Equal(Verdict.Fail, contoso.Verdict);
        Assert.Contains("TLS negotiation failed with error SubjectMismatch", contoso.Reason, StringComparison.Ordinal);
        Assert.True(contoso.Sender);
        Assert.Equal(Verdict.Pass, Get(v, "exo:DomainValidation:*.example.test").Verdict);

        // EncryptionOnly takes a self-signed certificate; CertificateValidation does not.
        using var self = PolicyPki.Leaf(null, [Mx]);
        var selfSigned = Run(Tls(self));
        Assert.Equal(Verdict.Pass, Get(selfSigned, PolicyIds.ExoEncryptionOnly).Verdict);
        Assert.Contains("UntrustedRoot", Get(selfSigned, PolicyIds.ExoCertificateValidation).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Exchange_Inbound_Needs_The_Announced_Name_In_The_Certificate_And_A_Reachable_Crl()
    {
        using var leaf = PolicyPki.Leaf(_ca, ["other.example.test"]);
        var mismatch = Get(Run(Tls(leaf, _ca)), PolicyIds.ExoInbound);
        Assert.Equal(Verdict.Fail, mismatch.Verdict);
        Assert.Contains("mx.example.test (banner)", mismatch.Reason, StringComparison.Ordinal);
        Assert.Equal("EHLO_NAME_NOT_IN_CERTIFICATE", mismatch.Fields["finding"]);

        using var good = PolicyPki.Leaf(_ca, [Mx]);
        var unreachable = Get(Run(Tls(good, _ca) with { Revocation = new RevocationObservation(false, false, "CRL http://crl.example.test/ca.crl unreachable") }), PolicyIds.ExoInbound);
        Assert.Equal(Verdict.Fail, unreachable.Verdict);
        Assert.Contains("RevocationStatusUnknown", unreachable.Reason, StringComparison.Ordinal);
        Assert.Equal("not checked (run with --check-revocation)", Get(Run(Tls(good, _ca)), PolicyIds.ExoInbound).Fields["crl"]);
    }

    [Fact]
    public void Policy_Ids_Normalize_And_Reject_Unknown()
    {
        Assert.Equal("postfix:verify", PolicyIds.Normalize("Postfix:Verify"));
        Assert.Equal("exo:DomainValidation:contoso.com", PolicyIds.Normalize("exo:domainvalidation:Contoso.com."));
        Assert.Null(PolicyIds.Normalize("postfix:fingerprint"));
        Assert.Null(PolicyIds.Normalize("exo:DomainValidation:"));
    }
}
