using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.Tests.Policy;

/// <summary>Certificates made at run time for the policy tests: a CA and leaves with chosen names and validity.</summary>
internal static class PolicyPki
{
    public static readonly DateTimeOffset Now = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);

    public static X509Certificate2 Ca(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(Now.AddYears(-2), Now.AddYears(5));
    }

    public static X509Certificate2 Leaf(X509Certificate2? issuer, string[] names, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in names)
        {
            san.AddDnsName(n);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        var from = notBefore ?? Now.AddDays(-30);
        var to = notAfter ?? Now.AddDays(60);
        if (issuer is null)
        {
            return request.CreateSelfSigned(from, to);
        }

        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f;
        using var signed = request.Create(issuer, from, to, serial);
        return signed.CopyWithPrivateKey(key);
    }
}
