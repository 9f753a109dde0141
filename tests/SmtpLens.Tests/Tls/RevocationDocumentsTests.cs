using System.Security.Cryptography.X509Certificates;
using SmtpLens.Tests.Support;
using SmtpLens.Tls.Revocation;

namespace SmtpLens.Tests.Tls;

/// <summary>CRL distribution points, AIA OCSP responders, CRLs and OCSP answers, made at run time by a test CA and read
/// through BouncyCastle's parsers.</summary>
public sealed class RevocationDocumentsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
    private readonly RevocationPki _pki = new("http://127.0.0.1:8480", Now);

    public void Dispose() => _pki.Dispose();

    [Fact]
    public void Endpoints_AreTheCrlDistributionPointAndTheOcspResponder()
    {
        using var leaf = _pki.Issue("mx.example.test");

        var endpoints = RevocationDocuments.Endpoints(leaf.RawData);

        Assert.Equal(["http://127.0.0.1:8480/ca.crl"], endpoints.CrlUrls);
        Assert.Equal(["http://127.0.0.1:8480/ocsp"], endpoints.OcspUrls);
        Assert.Empty(RevocationDocuments.Endpoints(_pki.Ca.RawData).CrlUrls);
    }

    [Fact]
    public void Crl_GoodAndRevoked_WithDatesReasonAndIssuerSignature()
    {
        using var good = _pki.Issue("good.example.test");
        using var revoked = _pki.Issue("revoked.example.test");
        _pki.Revoke(revoked, X509RevocationReason.Superseded);
        var crl = _pki.Crl();

        var ok = RevocationDocuments.CrlStatus(_pki.CrlUrl, crl, good.RawData, _pki.Ca.RawData, Now);
        Assert.Equal(RevocationStatus.Good, ok.Status);
        Assert.True(ok.Reachable);
        Assert.True(ok.SignatureValid);
        Assert.Equal(Now.AddHours(-1), ok.ThisUpdate);
        Assert.Equal(Now.AddDays(7), ok.NextUpdate);
        Assert.Equal(TimeSpan.FromHours(1), ok.Age);
        Assert.False(ok.Stale);

        var bad = RevocationDocuments.CrlStatus(_pki.CrlUrl, crl, revoked.RawData, _pki.Ca.RawData, Now);
        Assert.Equal(RevocationStatus.Revoked, bad.Status);
        Assert.Equal(Now.AddHours(-2), bad.RevokedAt);
        Assert.Equal("superseded", bad.RevocationReason);
    }

    [Fact]
    public void Crl_PastItsNextUpdate_IsStale()
    {
        using var leaf = _pki.Issue("stale.example.test");

        var result = RevocationDocuments.CrlStatus(_pki.CrlUrl, _pki.Crl(Now.AddDays(-10), Now.AddDays(-3)), leaf.RawData, _pki.Ca.RawData, Now);

        Assert.True(result.Stale);
        Assert.Equal(TimeSpan.FromDays(10), result.Age);
        Assert.Contains("STALE (past nextUpdate)", result.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Crl_FromAnotherCa_IsNoAnswer_AndGarbageIsNotACrl()
    {
        using var other = new RevocationPki("http://127.0.0.1:8481", Now, "Some Other CA");
        using var leaf = _pki.Issue("mx.example.test");

        var foreign = RevocationDocuments.CrlStatus(_pki.CrlUrl, other.Crl(), leaf.RawData, _pki.Ca.RawData, Now);

        Assert.Equal(RevocationStatus.Unknown, foreign.Status);
        Assert.Contains("is not the certificate's issuer", foreign.Failure, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => RevocationDocuments.CrlStatus(_pki.CrlUrl, "<html>moved</html>"u8.ToArray(), leaf.RawData, null, Now));
    }

    [Fact]
    public void Ocsp_GoodAndRevoked_SignedByTheIssuer()
    {
        using var good = _pki.Issue("good.example.test");
        using var revoked = _pki.Issue("revoked.example.test");
        _pki.Revoke(revoked);

        var ok = RevocationDocuments.OcspStatus(_pki.OcspUrl, _pki.OcspResponse(RevocationDocuments.OcspRequest(good.RawData, _pki.Ca.RawData)), good.RawData, _pki.Ca.RawData, Now);
        var bad = RevocationDocuments.OcspStatus(_pki.OcspUrl, _pki.OcspResponse(RevocationDocuments.OcspRequest(revoked.RawData, _pki.Ca.RawData)), revoked.RawData, _pki.Ca.RawData, Now);

        Assert.Equal(RevocationStatus.Good, ok.Status);
        Assert.True(ok.SignatureValid);
        Assert.Equal(Now.AddMinutes(-10), ok.ThisUpdate);
        Assert.Equal(RevocationStatus.Revoked, bad.Status);
        Assert.Equal("keyCompromise", bad.RevocationReason);

        // The answer for one certificate says nothing about another.
        var mismatched = RevocationDocuments.OcspStatus(_pki.OcspUrl, _pki.OcspResponse(RevocationDocuments.OcspRequest(good.RawData, _pki.Ca.RawData)), revoked.RawData, _pki.Ca.RawData, Now);
        Assert.Equal(RevocationStatus.Unknown, mismatched.Status);
    }

    [Fact]
    public void CertificateRevocation_RoundTripsThroughEventData()
    {
        var check = new CertificateRevocation("upstream", 0, "CN=mx.example.test", "CN=CA", "0A1B",
        [
            new RevocationSourceResult(RevocationSourceKind.Crl, _pki.CrlUrl, true, null, RevocationStatus.Good, Now, Now.AddHours(-1), Now.AddDays(7), SignatureValid: true),
            new RevocationSourceResult(RevocationSourceKind.Ocsp, _pki.OcspUrl, false, "connection refused", RevocationStatus.Unknown, Now),
        ]);

        var back = CertificateRevocation.FromData(check.ToData());

        Assert.NotNull(back);
        Assert.Equal(check.Describe(), back.Describe());
        Assert.Equal(RevocationStatus.Good, back.Status);
        Assert.True(back.CrlReachable);
        Assert.Equal([_pki.OcspUrl], back.Unreachable.Select(s => s.Url));
    }
}
