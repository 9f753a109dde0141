using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.Tls;

/// <summary>Loads a certificate and key the user configured: PEM (chain + key) or PFX.</summary>
internal static class TlsIdentityFile
{
    public static TlsIdentity Load(string certificatePath, string? keyPath, string? password = null)
    {
        if (!File.Exists(certificatePath))
        {
            throw new FileNotFoundException($"certificate file not found: {certificatePath}");
        }

        if (certificatePath.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || certificatePath.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
        {
            var collection = X509CertificateLoader.LoadPkcs12CollectionFromFile(certificatePath, password, X509KeyStorageFlags.Exportable);
            var leaf = collection.FirstOrDefault(c => c.HasPrivateKey) ?? throw new InvalidDataException($"{certificatePath} holds no private key");
            var chain = new List<byte[]> { leaf.RawData };
            chain.AddRange(collection.Where(c => c != leaf).Select(c => c.RawData));
            return TlsIdentity.From(chain, ExportKey(leaf));
        }

        if (keyPath is null)
        {
            throw new ArgumentException($"{certificatePath}: a PEM certificate needs its key file too");
        }

        PemFiles.RequirePrivateMode(keyPath);
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(certificatePath);
        if (certificates.Count == 0)
        {
            throw new InvalidDataException($"{certificatePath} holds no PEM certificate");
        }

        using var withKey = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        return TlsIdentity.From(certificates.Select(c => c.RawData), ExportKey(withKey));
    }

    private static byte[] ExportKey(X509Certificate2 certificate)
    {
        using RSA? rsa = certificate.GetRSAPrivateKey();
        if (rsa is not null)
        {
            return rsa.ExportPkcs8PrivateKey();
        }

        using ECDsa? ec = certificate.GetECDsaPrivateKey();
        return ec?.ExportPkcs8PrivateKey() ?? throw new InvalidDataException("only RSA and ECDSA keys are supported");
    }
}
