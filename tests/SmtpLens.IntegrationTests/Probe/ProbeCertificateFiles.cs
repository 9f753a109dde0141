using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Probe;

/// <summary>A smtpd certificate made at run time with the validity and names a probe scenario needs.</summary>
[SupportedOSPlatform("linux")]
internal sealed class ProbeCertificateFiles : IDisposable
{
    private const UnixFileMode PublicFile = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private ProbeCertificateFiles(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>Leaf then issuing CA, as smtpd_tls_chain_files wants after the key.</summary>
    public string CertificateFile => Path.Combine(Directory, "chain.pem");

    public string KeyFile => Path.Combine(Directory, "key.pem");

    public static ProbeCertificateFiles Write(TlsTestPki pki, string commonName, IReadOnlyList<string> names, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var directory = Path.Combine("/tmp", "smtplens-probecert-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, PublicFile | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        var files = new ProbeCertificateFiles(directory);
        using var certificate = pki.UpstreamCa.ToX509WithKey(pki.UpstreamCa.Issue(commonName, names, notBefore, notAfter));
        File.WriteAllText(files.CertificateFile, certificate.ExportCertificatePem() + "\n" + pki.UpstreamCa.Certificate.ExportCertificatePem() + "\n");
        File.SetUnixFileMode(files.CertificateFile, PublicFile);
        using var key = certificate.GetRSAPrivateKey() ?? throw new InvalidOperationException("certificate has no RSA key");
        PemFiles.WritePrivate(files.KeyFile, key.ExportPkcs8PrivateKeyPem());
        return files;
    }

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("SMTPLENS_KEEP_PEER_DIRS") != "1")
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
