using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Crypto.Parameters;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

[UnsupportedOSPlatform("windows")]
public sealed class TlsIdentityFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-identity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A leaf and its CA as a PEM chain, plus the leaf's key as PKCS#8 PEM created 0600.</summary>
    private (string Certificate, string Key, byte[][] Chain) WritePem(string name)
    {
        var ca = TlsTestCertificates.Interception;
        var identity = ca.Issue(name, [name], TlsTestCertificates.Now.AddDays(-1), TlsTestCertificates.Now.AddDays(30));
        var chain = TlsTestCertificates.Der(identity);
        using var withKey = ca.ToX509WithKey(identity);
        using var rsa = withKey.GetRSAPrivateKey()!;
        var certificatePath = Path.Combine(_dir, name + ".pem");
        var keyPath = Path.Combine(_dir, name + ".key");
        File.WriteAllText(certificatePath, string.Concat(chain.Select(d => PemEncoding.WriteString("CERTIFICATE", d) + "\n")));
        PemFiles.WritePrivate(keyPath, rsa.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath, chain);
    }

    [Fact]
    public void Load_PemChainAndKey_GivesTheChainLeafFirstAndTheKey()
    {
        var (certificate, key, chain) = WritePem("mx.example.test");

        var identity = TlsIdentityFile.Load(certificate, key);

        Assert.Equal(chain, identity.ChainDer);
        Assert.True(identity.PrivateKey.IsPrivate);
        Assert.IsType<RsaPrivateCrtKeyParameters>(identity.PrivateKey);
    }

    [Fact]
    public void Load_PemKeyReadableByOthers_IsRefused()
    {
        var (certificate, key, _) = WritePem("open.example.test");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        Assert.Throws<UnauthorizedAccessException>(() => TlsIdentityFile.Load(certificate, key));
    }

    [Fact]
    public void Load_PemWithoutKeyPath_SaysTheKeyIsNeeded()
    {
        var (certificate, _, _) = WritePem("nokey.example.test");

        var e = Assert.Throws<ArgumentException>(() => TlsIdentityFile.Load(certificate, null));

        Assert.Contains("key file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingCertificate_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => TlsIdentityFile.Load(Path.Combine(_dir, "absent.pem"), null));
    }

    [Fact]
    public void Load_Pfx_GivesTheKeyedLeafFirst()
    {
        var ca = TlsTestCertificates.Interception;
        var identity = ca.Issue("pfx.example.test", ["pfx.example.test"], TlsTestCertificates.Now.AddDays(-1), TlsTestCertificates.Now.AddDays(30));
        using var leaf = ca.ToX509WithKey(identity);
        using var caPublic = X509CertificateLoader.LoadCertificate(ca.Certificate.RawData);
        var collection = new X509Certificate2Collection { caPublic, leaf }; // CA first on purpose
        var path = Path.Combine(_dir, "identity.pfx");
        File.WriteAllBytes(path, collection.Export(X509ContentType.Pkcs12, "secret")!);

        var loaded = TlsIdentityFile.Load(path, null, "secret");

        Assert.Equal([leaf.RawData, ca.Certificate.RawData], loaded.ChainDer);
        Assert.True(loaded.PrivateKey.IsPrivate);
    }
}
