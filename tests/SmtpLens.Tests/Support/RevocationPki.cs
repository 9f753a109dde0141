using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Ocsp;
using BcCertificate = Org.BouncyCastle.X509.X509Certificate;

namespace SmtpLens.Tests.Support;

/// <summary>A test CA made at run time whose certificates name a CRL distribution point and an OCSP responder
/// (<c>{base}/ca.crl</c>, <c>{base}/ocsp</c>), with the CRLs and OCSP answers it would publish.</summary>
internal sealed class RevocationPki : IDisposable
{
    private readonly RSA _caKey = RSA.Create(2048);
    private readonly RSA _leafKey = RSA.Create(2048);
    private readonly Dictionary<string, (DateTimeOffset At, X509RevocationReason Reason)> _revoked = new(StringComparer.OrdinalIgnoreCase);

    public RevocationPki(string baseUrl, DateTimeOffset now, string name = "SmtpLens Test Revocation CA")
    {
        BaseUrl = baseUrl.TrimEnd('/');
        Now = now;
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Ca = request.CreateSelfSigned(now.AddDays(-30), now.AddYears(2));
    }

    public string BaseUrl { get; }

    public DateTimeOffset Now { get; }

    /// <summary>The CA with its private key.</summary>
    public X509Certificate2 Ca { get; }

    public string CrlUrl => BaseUrl + "/ca.crl";

    public string OcspUrl => BaseUrl + "/ocsp";

    /// <summary>The extensions a leaf needs to point at this CA's CRL and OCSP responder.</summary>
    /// <param name="ocspUrl">An empty string leaves the AIA extension out (a CA without OCSP).</param>
    public IReadOnlyList<X509Extension> RevocationExtensions(string? crlUrl = null, string? ocspUrl = null) =>
        ocspUrl == string.Empty
            ? [CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([crlUrl ?? CrlUrl])]
            : [CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([crlUrl ?? CrlUrl]), new X509AuthorityInformationAccessExtension([ocspUrl ?? OcspUrl], null)];

    /// <summary>A leaf for <paramref name="host"/> (server and client auth), with the key, pointing at this CA's CRL and OCSP.</summary>
    public X509Certificate2 Issue(string host, string? crlUrl = null, string? ocspUrl = null)
    {
        var request = new CertificateRequest($"CN={host}", _leafKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(host);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Ca, true, false));
        foreach (var extension in RevocationExtensions(crlUrl, ocspUrl))
        {
            request.CertificateExtensions.Add(extension);
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var leaf = request.Create(Ca, Now.AddDays(-1), Now.AddDays(90), serial);
        using var withKey = leaf.CopyWithPrivateKey(_leafKey);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Revoke(X509Certificate2 certificate, X509RevocationReason reason = X509RevocationReason.KeyCompromise) =>
        _revoked[certificate.SerialNumber] = (Now.AddHours(-2), reason);

    /// <summary>The CRL as published <paramref name="thisUpdate"/> (default an hour ago), valid until <paramref name="nextUpdate"/> (default a week on).</summary>
    public byte[] Crl(DateTimeOffset? thisUpdate = null, DateTimeOffset? nextUpdate = null)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var (serial, (at, reason)) in _revoked)
        {
            builder.AddEntry(Convert.FromHexString(serial), at, reason);
        }

        return builder.Build(Ca, BigInteger.One, nextUpdate ?? Now.AddDays(7), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, thisUpdate ?? Now.AddHours(-1));
    }

    /// <summary>The OCSP answer to a DER request, signed by the CA itself: revoked if revoked here, else good.</summary>
    public byte[] OcspResponse(byte[] request)
    {
        var parsed = new OcspReq(request);
        var caBc = new BcCertificate(Ca.RawData);
        var privateKey = Org.BouncyCastle.Security.PrivateKeyFactory.CreateKey(_caKey.ExportPkcs8PrivateKey());
        var generator = new BasicOcspRespGenerator(caBc.GetPublicKey());
        foreach (var one in parsed.GetRequestList())
        {
            var id = one.GetCertID();
            var serial = id.SerialNumber.ToString(16).ToUpperInvariant();
            var revoked = _revoked.FirstOrDefault(r => string.Equals(r.Key.TrimStart('0'), serial.TrimStart('0'), StringComparison.OrdinalIgnoreCase));
            CertificateStatus? status = revoked.Key is null ? CertificateStatus.Good : new RevokedStatus(revoked.Value.At.UtcDateTime, (int)revoked.Value.Reason);
            generator.AddResponse(id, status, Now.AddMinutes(-10).UtcDateTime, Now.AddDays(1).UtcDateTime, null);
        }

        var basic = generator.Generate("SHA256WithRSA", privateKey, [caBc], Now.UtcDateTime);
        return new OCSPRespGenerator().Generate(OcspRespStatus.Successful, basic).GetEncoded();
    }

    /// <summary>The chain a server or client presents: leaf, then the CA.</summary>
    public IReadOnlyList<byte[]> Chain(X509Certificate2 leaf) => [leaf.RawData, Ca.RawData];

    /// <summary>The leaf and the CA with the leaf's key, for BouncyCastle lab peers that send the whole chain.</summary>
    public SmtpLens.Tls.TlsIdentity Identity(X509Certificate2 leaf) => SmtpLens.Tls.TlsIdentity.From(Chain(leaf), _leafKey.ExportPkcs8PrivateKey());

    public void Dispose()
    {
        Ca.Dispose();
        _caKey.Dispose();
        _leafKey.Dispose();
    }
}
