using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

public sealed class UpstreamValidationTests
{
    /// <summary>A leg record filled the way the interceptor fills it before checking.</summary>
    private static TlsLegRecord Record(byte[][] chain)
    {
        var record = new TlsLegRecord("upstream", "client") { ServerCertificatesDer = chain };
        record.ServerCertificates.AddRange(chain.Select(CertificateSummary.FromDer));
        return record;
    }

    private static byte[][] Chain(string name, DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        TlsTestCertificates.Der(TlsTestCertificates.Upstream.Issue(name, [name], notBefore, notAfter));

    [Fact]
    public void Check_ChainFromAnUntrustedCa_IsNotTrustedAndSaysWhy()
    {
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(80));
        var record = Record(chain);

        UpstreamValidation.Check(record, chain, "mx.example.test", TlsTestCertificates.Now);

        Assert.False(record.ChainTrusted);
        Assert.Contains("UntrustedRoot", record.ChainStatus, StringComparison.Ordinal);
        Assert.Equal("mx.example.test", record.NameChecked);
        Assert.True(record.NameMatches);
    }

    [Fact]
    public void Check_UpstreamCaAnchor_TrustsAPrivatePkiAndSaysWhichRoot()
    {
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(80));
        var record = Record(chain);

        UpstreamValidation.Check(record, chain, "mx.example.test", TlsTestCertificates.Now, [TlsTestCertificates.Upstream.Certificate]);

        Assert.True(record.ChainTrusted);
        Assert.Equal($"trusted by --upstream-ca ({TlsTestCertificates.Upstream.Certificate.Subject})", record.ChainStatus);
    }

    [Fact]
    public void Check_UpstreamCaAnchorOfAnotherPki_StillRefusesAndSaysBoth()
    {
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(80));
        var record = Record(chain);

        UpstreamValidation.Check(record, chain, "mx.example.test", TlsTestCertificates.Now, [TlsTestCertificates.Interception.Certificate]);

        Assert.False(record.ChainTrusted);
        Assert.Contains("UntrustedRoot", record.ChainStatus, StringComparison.Ordinal);
        Assert.Contains("not trusted by --upstream-ca either", record.ChainStatus, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_LeafWithoutItsIssuer_IsNotTrusted()
    {
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(80));
        var record = Record(chain[..1]);

        UpstreamValidation.Check(record, chain[..1], "mx.example.test", TlsTestCertificates.Now);

        Assert.False(record.ChainTrusted);
        Assert.False(string.IsNullOrWhiteSpace(record.ChainStatus));
        Assert.DoesNotContain("trusted by the system store", record.ChainStatus, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_ExpiredLeaf_ReportsTheTimeProblem()
    {
        var chain = Chain("old.example.test", new DateTimeOffset(2019, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var record = Record(chain);

        UpstreamValidation.Check(record, chain, "old.example.test", TlsTestCertificates.Now);

        Assert.False(record.ChainTrusted);
        Assert.Contains("NotTimeValid", record.ChainStatus, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mx.example.test", true)]
    [InlineData("MX.EXAMPLE.TEST", true)]
    [InlineData("mx2.example.test", false)]
    [InlineData("192.0.2.25", false)]
    public void Check_HostName_IsMatchedAgainstTheLeaf(string host, bool expected)
    {
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(80));
        var record = Record(chain);

        UpstreamValidation.Check(record, chain, host, TlsTestCertificates.Now);

        Assert.Equal(host, record.NameChecked);
        Assert.Equal(expected, record.NameMatches);
    }

    [Fact]
    public void Check_NoHostName_LeavesTheNameUnchecked()
    {
        var chain = Chain("mx.example.test", TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(80));
        var record = Record(chain);

        UpstreamValidation.Check(record, chain, null, TlsTestCertificates.Now);

        Assert.Null(record.NameChecked);
        Assert.Null(record.NameMatches);
        Assert.False(record.ChainTrusted);
    }

    [Fact]
    public void Check_NoCertificate_IsNotTrusted()
    {
        var record = new TlsLegRecord("upstream", "client");

        UpstreamValidation.Check(record, [], "mx.example.test", TlsTestCertificates.Now);

        Assert.False(record.ChainTrusted);
        Assert.Equal("no certificate presented", record.ChainStatus);
    }
}
