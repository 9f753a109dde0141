using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class CertificateSummaryTests
{
    private static readonly DateTimeOffset NotBefore = new(2024, 2, 29, 13, 37, 11, TimeSpan.Zero);
    private static readonly DateTimeOffset NotAfter = new(2026, 7, 31, 23, 59, 58, TimeSpan.Zero);

    private static byte[] IssueDer(string commonName, params string[] names) =>
        TlsTestCertificates.Der(TlsTestCertificates.Interception.Issue(commonName, names, NotBefore, NotAfter))[0];

    [Fact]
    public void FromDer_IssuedLeaf_DescribesEveryField()
    {
        var der = IssueDer("mx.example.test", "mx.example.test", "smtp.example.test", "IP:192.0.2.25", "IP:2001:db8::25");
        using var independent = X509CertificateLoader.LoadCertificate(der);

        var summary = CertificateSummary.FromDer(der);

        Assert.Equal("CN=mx.example.test", summary.Subject);
        Assert.Equal("mx.example.test", summary.CommonName);
        Assert.Equal(["DNS:mx.example.test", "DNS:smtp.example.test", "IP:192.0.2.25", "IP:2001:db8::25"], summary.SubjectAltNames);
        Assert.Equal("CN=SmtpLens Interception CA, O=SmtpLens", summary.Issuer);
        Assert.Equal(independent.SerialNumber, summary.Serial);
        Assert.Equal(NotBefore, summary.NotBefore);
        Assert.Equal(NotAfter, summary.NotAfter);
        Assert.Equal(TimeSpan.Zero, summary.NotAfter.Offset);
        Assert.Equal("RSA", summary.KeyType);
        Assert.Equal(2048, summary.KeySize);
        Assert.Equal("sha256RSA", summary.SignatureAlgorithm);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(der)), summary.Sha256Fingerprint);
        Assert.False(summary.IsSelfIssued);
        Assert.False(summary.HasWildcard);
    }

    [Fact]
    public void From_CaCertificate_IsSelfIssuedWithoutNames()
    {
        var summary = CertificateSummary.From(TlsTestCertificates.Interception.Certificate);

        Assert.True(summary.IsSelfIssued);
        Assert.Equal("SmtpLens Interception CA", summary.CommonName);
        Assert.Empty(summary.SubjectAltNames);
        Assert.Equal(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), summary.NotBefore);
        Assert.Equal(TlsTestCertificates.Interception.Sha256Fingerprint, summary.Sha256Fingerprint);
    }

    [Fact]
    public void From_EcdsaCertificate_GivesKeyTypeSizeAndSignature()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest("CN=ec.example.test", key, HashAlgorithmName.SHA384);
        using var certificate = request.CreateSelfSigned(NotBefore, NotAfter);

        var summary = CertificateSummary.From(certificate);

        Assert.Equal("EC", summary.KeyType);
        Assert.Equal(384, summary.KeySize);
        Assert.Equal("sha384ECDSA", summary.SignatureAlgorithm);
        Assert.True(summary.IsSelfIssued);
    }

    [Theory]
    [InlineData("mx.example.test", true)]
    [InlineData("MX.Example.TEST", true)] // DNS names compare case-insensitively
    [InlineData("mx.example.test.", true)] // a fully qualified name with its root dot
    [InlineData("a.example.test", true)] // the wildcard covers one label...
    [InlineData("A-1.EXAMPLE.test", true)]
    [InlineData("example.test", false)] // ...not zero labels
    [InlineData("a.b.example.test", false)] // ...and not two
    [InlineData(".example.test", false)] // an empty label is not a label
    [InlineData("a.example.testing", false)]
    [InlineData("aexample.test", false)]
    [InlineData("other.test", false)]
    [InlineData("", false)]
    public void Matches_ExactAndWildcardNames_FollowRfc6125(string host, bool expected)
    {
        var summary = CertificateSummary.FromDer(IssueDer("mx.example.test", "mx.example.test", "*.example.test"));

        Assert.Equal(expected, summary.Matches(host));
        Assert.True(summary.HasWildcard);
    }

    [Theory]
    [InlineData("192.0.2.25", true)]
    [InlineData("2001:db8::25", true)]
    [InlineData("192.0.2.26", false)]
    [InlineData("198.51.100.25", false)]
    public void Matches_IpAddress_ComparesIpSans(string host, bool expected)
    {
        var summary = CertificateSummary.FromDer(IssueDer("mx.example.test", "mx.example.test", "IP:192.0.2.25", "IP:2001:db8::25"));

        Assert.Equal(expected, summary.Matches(host));
    }

    [Fact]
    public void Matches_NoSubjectAltNames_FallsBackToTheCommonName()
    {
        var summary = CertificateSummary.FromDer(IssueDer("legacy.example.test"));

        Assert.Empty(summary.SubjectAltNames);
        Assert.Equal(["legacy.example.test"], summary.DnsNames);
        Assert.True(summary.Matches("legacy.example.test"));
        Assert.False(summary.Matches("other.example.test"));
    }

    [Fact]
    public void Matches_SubjectAltNamesPresent_IgnoresTheCommonName()
    {
        // RFC 6125 6.4.4: the CN is consulted only when there is no DNS-ID at all.
        var summary = CertificateSummary.FromDer(IssueDer("cn-only.example.test", "san.example.test"));

        Assert.Equal(["san.example.test"], summary.DnsNames);
        Assert.True(summary.Matches("san.example.test"));
        Assert.False(summary.Matches("cn-only.example.test"));
    }

    [Fact]
    public void HasWildcard_WildcardOnlyInCommonName_IsDetectedAndMatches()
    {
        var summary = CertificateSummary.FromDer(IssueDer("*.example.test"));

        Assert.True(summary.HasWildcard);
        Assert.True(summary.Matches("mx.example.test"));
        Assert.False(summary.Matches("example.test"));
    }

    [Fact]
    public void CommonName_SubjectWithoutCn_IsNullAndNothingMatchesOtherAttributes()
    {
        // RFC 6125 6.4.4 falls back to the CN only; an O or OU is not a host name. .NET's SimpleName does
        // fall back to O, OU and e-mail, so without care "Example Org" would become a matchable name.
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("O=Example Org, C=DE", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(NotBefore, NotAfter);

        var summary = CertificateSummary.From(certificate);

        Assert.Null(summary.CommonName);
        Assert.Empty(summary.DnsNames);
        Assert.False(summary.Matches("Example Org"));
    }

    [Fact]
    public void ToDataAndDescribe_IssuedLeaf_CarryTheFields()
    {
        var summary = CertificateSummary.FromDer(IssueDer("mx.example.test", "mx.example.test"));

        var data = summary.ToData();
        var text = summary.Describe();

        Assert.Equal("CN=mx.example.test", data["subject"]);
        Assert.Equal("2024-02-29T13:37:11.0000000+00:00", data["notBefore"]);
        Assert.Equal("2026-07-31T23:59:58.0000000+00:00", data["notAfter"]);
        Assert.Equal(2048, data["keySize"]);
        Assert.Equal(summary.Sha256Fingerprint, data["sha256"]);
        Assert.Contains("CN=mx.example.test", text, StringComparison.Ordinal);
        Assert.Contains("SAN=[DNS:mx.example.test]", text, StringComparison.Ordinal);
        Assert.Contains("valid 2024-02-29..2026-07-31 RSA-2048 sha256RSA", text, StringComparison.Ordinal);
    }
}
