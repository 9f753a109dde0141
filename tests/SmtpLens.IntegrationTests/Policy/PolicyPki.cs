using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.IntegrationTests.Policy;

/// <summary>A server certificate written for Postfix's smtpd_tls_chain_files, with the SPKI digest DANE-EE(3) 1 1 names.</summary>
internal sealed record ServerCertificate(string CertificateFile, string KeyFile, string SpkiSha256Hex);

/// <summary>
/// Certificates made at run time for the policy comparison: a CA the sender trusts (its CA file), a second CA it
/// does not, and leaf certificates that are each wrong in exactly one way.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class PolicyPki : IDisposable
{
    private readonly string _directory;
    private readonly ECDsa _trustedKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _untrustedKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _trusted;
    private readonly X509Certificate2 _untrusted;

    public PolicyPki(string directory)
    {
        _directory = directory;
        _trusted = CreateCa("SmtpLens Policy Test Trusted CA", _trustedKey);
        _untrusted = CreateCa("SmtpLens Policy Test Untrusted CA", _untrustedKey);
        CaFile = Path.Combine(directory, "trusted-ca.pem");
        File.WriteAllText(CaFile, _trusted.ExportCertificatePem() + "\n");
        File.SetUnixFileMode(CaFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    /// <summary>PEM of the trusted CA: Postfix's smtp_tls_CAfile and SmtpLens's --policy-ca-file.</summary>
    public string CaFile { get; }

    /// <summary>Signed by the trusted CA for <paramref name="names"/>, valid now.</summary>
    public ServerCertificate Valid(string label, params string[] names) => Issue(label, names, trusted: true, expired: false);

    /// <summary>Signed by the trusted CA for the right names, but expired a day ago.</summary>
    public ServerCertificate Expired(string label, params string[] names) => Issue(label, names, trusted: true, expired: true);

    /// <summary>Right names and dates, but signed by a CA the sender does not trust.</summary>
    public ServerCertificate Untrusted(string label, params string[] names) => Issue(label, names, trusted: false, expired: false);

    /// <summary>An SPKI digest that matches none of these certificates (a TLSA record for a key the server does not hold).</summary>
    public static string UnrelatedSpkiSha256Hex()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));
    }

    private ServerCertificate Issue(string label, string[] names, bool trusted, bool expired)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        var (notBefore, notAfter) = expired ? (now.AddDays(-60), now.AddDays(-1)) : (now.AddDays(-1), now.AddDays(30));
        var issuer = trusted ? _trusted : _untrusted;
        using var leaf = request.Create(issuer, notBefore, notAfter, Serial());

        var certificateFile = Path.Combine(_directory, $"{label}-cert.pem");
        var keyFile = Path.Combine(_directory, $"{label}-key.pem");
        File.WriteAllText(certificateFile, leaf.ExportCertificatePem() + "\n" + issuer.ExportCertificatePem() + "\n");
        File.SetUnixFileMode(certificateFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem() + "\n");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new ServerCertificate(certificateFile, keyFile, Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())));
    }

    /// <summary>A positive serial (a set high bit would make the DER INTEGER negative).</summary>
    private static byte[] Serial()
    {
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        return serial;
    }

    private static X509Certificate2 CreateCa(string name, ECDsa key)
    {
        var request = new CertificateRequest($"CN={name}, O=SmtpLens Tests", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-365), DateTimeOffset.UtcNow.AddDays(365));
    }

    public void Dispose()
    {
        _trusted.Dispose();
        _untrusted.Dispose();
        _trustedKey.Dispose();
        _untrustedKey.Dispose();
    }
}
