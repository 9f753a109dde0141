using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

/// <summary>The CA on disk: file modes, refusing to overwrite, loading back.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class CertificateAuthorityFileTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "smtplens-ca-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(TlsTestCertificates.Now);

    private string KeyPath => Path.Combine(_dir, CertificateAuthority.KeyFile);

    private string CertificatePath => Path.Combine(_dir, CertificateAuthority.CertificateFile);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Create_NewDirectory_WritesCertificateAndKeyReadableOnlyByTheOwner()
    {
        using var ca = CertificateAuthority.Create(_dir, _time);

        Assert.Equal(Private, File.GetUnixFileMode(KeyPath));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(KeyPath), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(CertificatePath), StringComparison.Ordinal);
        Assert.True(CertificateAuthority.ExistsIn(_dir));
        using var onDisk = X509Certificate2.CreateFromPem(File.ReadAllText(CertificatePath));
        Assert.Equal(ca.Certificate.RawData, onDisk.RawData);
        Assert.True(onDisk.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal("CN=SmtpLens Interception CA, O=SmtpLens", onDisk.Subject);
    }

    [Fact]
    public void Create_CaAlreadyThere_RefusesWithoutForceAndLeavesItAlone()
    {
        using var first = CertificateAuthority.Create(_dir, _time);
        var key = File.ReadAllBytes(KeyPath);

        var e = Assert.Throws<IOException>(() => CertificateAuthority.Create(_dir, _time));

        Assert.Contains("--force", e.Message, StringComparison.Ordinal);
        Assert.Equal(key, File.ReadAllBytes(KeyPath));
        using var loaded = CertificateAuthority.Load(_dir, _time);
        Assert.Equal(first.Sha256Fingerprint, loaded.Sha256Fingerprint);
    }

    [Fact]
    public void Create_OnlyAKeyFileThere_StillRefuses()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(KeyPath, "someone else's key");

        Assert.Throws<IOException>(() => CertificateAuthority.Create(_dir, _time));
        Assert.Equal("someone else's key", File.ReadAllText(KeyPath));
    }

    [Fact]
    public void Create_WithForce_ReplacesTheCaAndMakesAnOpenKeyPrivateAgain()
    {
        using var first = CertificateAuthority.Create(_dir, _time);
        File.SetUnixFileMode(KeyPath, Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using var second = CertificateAuthority.Create(_dir, _time, overwrite: true);

        Assert.NotEqual(first.Sha256Fingerprint, second.Sha256Fingerprint);
        Assert.Equal(Private, File.GetUnixFileMode(KeyPath));
        using var loaded = CertificateAuthority.Load(_dir, _time);
        Assert.Equal(second.Sha256Fingerprint, loaded.Sha256Fingerprint);
    }

    [Fact]
    public void Load_CreatedCa_RoundTripsAndSignsWithTheSameKey()
    {
        using var created = CertificateAuthority.Create(_dir, _time);

        using var loaded = CertificateAuthority.Load(_dir, _time);

        Assert.Equal(created.Sha256Fingerprint, loaded.Sha256Fingerprint);
        Assert.Equal(created.Certificate.RawData, loaded.Certificate.RawData);

        // The key on disk is the certificate's key: what the loaded CA forges chains to the created CA.
        var forged = TlsTestCertificates.Der(loaded.ForgeFor([], "mx.example.test"));
        using var leaf = X509CertificateLoader.LoadCertificate(forged[0]);
        Assert.True(CertificateAuthorityTests.ChainsTo(leaf, created.Certificate, TlsTestCertificates.Now, out var status), status);
    }

    [Fact]
    public void Load_KeyOfAnotherCa_IsRefusedAndSaysHowToFixIt()
    {
        using (CertificateAuthority.Create(_dir, _time))
        {
        }

        var other = Path.Combine(_dir, "other");
        using (CertificateAuthority.Create(other, _time))
        {
        }

        File.Copy(Path.Combine(other, CertificateAuthority.KeyFile), Path.Combine(_dir, CertificateAuthority.KeyFile), overwrite: true);

        var e = Assert.Throws<InvalidDataException>(() => CertificateAuthority.Load(_dir, _time));
        Assert.Contains("is not the key of smtplens-ca.pem", e.Message, StringComparison.Ordinal);
        Assert.Contains("smtplens ca init --dir", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("644")]
    [InlineData("640")]
    [InlineData("604")]
    [InlineData("620")]
    [InlineData("602")]
    public void Load_KeyOpenToGroupOrOthers_IsRefused(string octal)
    {
        using (CertificateAuthority.Create(_dir, _time))
        {
        }

        File.SetUnixFileMode(KeyPath, (UnixFileMode)Convert.ToInt32(octal, 8));

        var e = Assert.Throws<UnauthorizedAccessException>(() => CertificateAuthority.Load(_dir, _time));

        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
        Assert.Contains(octal, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_KeyReadOnlyForTheOwner_IsAccepted()
    {
        using (CertificateAuthority.Create(_dir, _time))
        {
        }

        File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead);

        using var loaded = CertificateAuthority.Load(_dir, _time);
        Assert.NotNull(loaded.Certificate);
    }

    [Fact]
    public void Load_NoCaInDirectory_SaysHowToCreateOne()
    {
        Directory.CreateDirectory(_dir);

        var e = Assert.Throws<FileNotFoundException>(() => CertificateAuthority.Load(_dir, _time));

        Assert.Contains("smtplens ca init", e.Message, StringComparison.Ordinal);
        Assert.False(CertificateAuthority.ExistsIn(_dir));
    }
}

/// <summary>Forging: the client leg's certificate mirrors the upstream's, signed by SmtpLens's CA.</summary>
public sealed class CertificateAuthorityTests
{
    /// <summary>An odd validity window, so a copied window cannot be a coincidence of defaults.</summary>
    private static readonly DateTimeOffset UpstreamNotBefore = new(2024, 2, 29, 13, 37, 11, TimeSpan.Zero);
    private static readonly DateTimeOffset UpstreamNotAfter = new(2026, 7, 31, 23, 59, 58, TimeSpan.Zero);

    private static CertificateAuthority Ours => TlsTestCertificates.Interception;

    private static byte[][] UpstreamChain(string commonName, string[] names, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        TlsTestCertificates.Der(TlsTestCertificates.Upstream.Issue(commonName, names, notBefore ?? UpstreamNotBefore, notAfter ?? UpstreamNotAfter));

    /// <summary>Builds <paramref name="leaf"/>'s chain with <paramref name="root"/> as the only trusted root.</summary>
    internal static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 root, DateTimeOffset at, out string status)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = at.UtcDateTime;
        var built = chain.Build(leaf);
        status = string.Join("; ", chain.ChainStatus.Select(s => s.Status));
        return built;
    }

    private static (X509Certificate2 Leaf, CertificateSummary Summary, byte[][] Chain) Forge(byte[][] upstream, string? sni)
    {
        var chain = TlsTestCertificates.Der(Ours.ForgeFor(upstream, sni));
        var leaf = X509CertificateLoader.LoadCertificate(chain[0]);
        return (leaf, CertificateSummary.From(leaf), chain);
    }

    [Fact]
    public void ForgeFor_UpstreamLeaf_MirrorsSubjectNamesAndValidity()
    {
        var upstream = UpstreamChain("mx.example.test", ["mx.example.test", "mail.example.test", "IP:192.0.2.25"]);
        var original = CertificateSummary.FromDer(upstream[0]);

        var (leaf, forged, chain) = Forge(upstream, "mx.example.test");
        using (leaf)
        {
            Assert.Equal(original.Subject, forged.Subject);
            Assert.Equal(original.SubjectAltNames, forged.SubjectAltNames);
            Assert.Equal(UpstreamNotBefore, forged.NotBefore);
            Assert.Equal(UpstreamNotAfter, forged.NotAfter);
            Assert.Equal(Ours.Certificate.Subject, forged.Issuer);
            Assert.NotEqual(original.Issuer, forged.Issuer);
            Assert.Equal(Ours.Certificate.RawData, chain[1]);
            Assert.Equal(2, chain.Length);

            // Our key, not the upstream's: no private key of the real server is needed.
            using var upstreamLeaf = X509CertificateLoader.LoadCertificate(upstream[0]);
            Assert.NotEqual(upstreamLeaf.PublicKey.EncodedKeyValue.RawData, leaf.PublicKey.EncodedKeyValue.RawData);
            Assert.Contains(leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.1");
        }
    }

    [Fact]
    public void ForgeClientFor_SendersCertificate_MirrorsSubjectEverySanAndValidityForClientAuthOnly()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=mx01.sender.test, OU=Mail, O=Sender Corp, C=FR", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("mx01.sender.test");
        san.AddEmailAddress("postmaster@sender.test");
        san.AddUri(new Uri("https://sender.test/mta"));
        san.AddIpAddress(System.Net.IPAddress.Parse("192.0.2.7"));
        request.CertificateExtensions.Add(san.Build());
        using var sender = request.CreateSelfSigned(UpstreamNotBefore, UpstreamNotAfter);

        var chain = TlsTestCertificates.Der(Ours.ForgeClientFor([sender.RawData]));
        using var leaf = X509CertificateLoader.LoadCertificate(chain[0]);
        var forged = CertificateSummary.From(leaf);

        Assert.Equal(sender.SubjectName.RawData, leaf.SubjectName.RawData);
        Assert.Equal(["DNS:mx01.sender.test", "IP:192.0.2.7", "email:postmaster@sender.test", "URI:https://sender.test/mta"], forged.SubjectAltNames);
        Assert.Equal(CertificateSummary.From(sender).SubjectAltNames, forged.SubjectAltNames);
        Assert.Equal(UpstreamNotBefore, forged.NotBefore);
        Assert.Equal(UpstreamNotAfter, forged.NotAfter);
        Assert.Equal(Ours.Certificate.Subject, forged.Issuer);
        Assert.Equal(["1.3.6.1.5.5.7.3.2"], leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        Assert.True(ChainsTo(leaf, Ours.Certificate, new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), out var status), status);
        Assert.Same(Ours.ForgeClientFor([sender.RawData]), Ours.ForgeClientFor([sender.RawData]));
    }

    [Fact]
    public void ForgeClientFor_NoCertificate_IsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Ours.ForgeClientFor([]));

    [Fact]
    public void ForgeFor_UpstreamLeaf_IsSignedByOurCaAndNotByTheirs()
    {
        var upstream = UpstreamChain("mx.example.test", ["mx.example.test"]);
        var (leaf, _, _) = Forge(upstream, "mx.example.test");
        using (leaf)
        {
            var at = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

            Assert.True(ChainsTo(leaf, Ours.Certificate, at, out var status), status);
            Assert.False(ChainsTo(leaf, TlsTestCertificates.Upstream.Certificate, at, out _));
        }
    }

    [Fact]
    public void ForgeFor_RichSubjectDn_IsCopiedByteForByte()
    {
        // A real upstream's subject carries O, L, C and more; the forged leaf must show the same DN.
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=mx1.mail.example.test, OU=Mail, O=Example Corp, L=Berlin, C=DE", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("mx1.mail.example.test");
        request.CertificateExtensions.Add(san.Build());
        using var upstream = request.CreateSelfSigned(UpstreamNotBefore, UpstreamNotAfter);

        var (leaf, forged, _) = Forge([upstream.RawData], "mx1.mail.example.test");
        using (leaf)
        {
            Assert.Equal(upstream.SubjectName.RawData, leaf.SubjectName.RawData);
            Assert.Equal("CN=mx1.mail.example.test, OU=Mail, O=Example Corp, L=Berlin, C=DE", forged.Subject);
        }
    }

    [Fact]
    public void ForgeFor_SniNotCoveredByUpstreamNames_AddsTheSni()
    {
        // The client asked for a name the upstream's certificate lacks; the forged one must still satisfy it.
        var upstream = UpstreamChain("mx.example.test", ["mx.example.test"]);

        var (leaf, forged, _) = Forge(upstream, "smtp.example.test");
        leaf.Dispose();

        Assert.Equal(["DNS:mx.example.test", "DNS:smtp.example.test"], forged.SubjectAltNames);
        Assert.True(forged.Matches("smtp.example.test"));
    }

    [Fact]
    public void ForgeFor_SniCoveredByUpstreamWildcard_AddsNothingAndKeepsTheWildcard()
    {
        var upstream = UpstreamChain("*.example.test", ["*.example.test"]);

        var (leaf, forged, _) = Forge(upstream, "mx.example.test");
        leaf.Dispose();

        Assert.Equal(["DNS:*.example.test"], forged.SubjectAltNames);
        Assert.True(forged.HasWildcard);
        Assert.Equal("*.example.test", forged.CommonName);
        Assert.True(forged.Matches("mx.example.test"));
    }

    [Fact]
    public void ForgeFor_UpstreamWithoutSans_UsesItsCommonNameAsTheSan()
    {
        var upstream = UpstreamChain("legacy.example.test", []);

        var (leaf, forged, _) = Forge(upstream, null);
        leaf.Dispose();

        Assert.Equal(["DNS:legacy.example.test"], forged.SubjectAltNames);
    }

    [Fact]
    public void ForgeFor_ExpiredUpstream_GivesAnEquallyExpiredLeaf()
    {
        // Mirroring, not repairing: the client must see the same expiry it would see without SmtpLens.
        var notBefore = new DateTimeOffset(2019, 3, 1, 8, 0, 1, TimeSpan.Zero);
        var notAfter = new DateTimeOffset(2020, 6, 30, 12, 0, 0, TimeSpan.Zero);
        var upstream = UpstreamChain("old.example.test", ["old.example.test"], notBefore, notAfter);

        var (leaf, forged, _) = Forge(upstream, "old.example.test");
        using (leaf)
        {
            Assert.Equal(notBefore, forged.NotBefore);
            Assert.Equal(notAfter, forged.NotAfter);
            Assert.False(ChainsTo(leaf, Ours.Certificate, TlsTestCertificates.Now, out var expired));
            Assert.Contains("NotTimeValid", expired, StringComparison.Ordinal);
            Assert.True(ChainsTo(leaf, Ours.Certificate, new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), out var valid), valid);
        }
    }

    [Fact]
    public void ForgeFor_SameUpstreamAndSni_ReturnsTheCachedIdentity()
    {
        var upstream = UpstreamChain("cache.example.test", ["cache.example.test"]);
        var before = Ours.ForgedCount;

        var first = Ours.ForgeFor(upstream, "cache.example.test");
        var again = Ours.ForgeFor([.. upstream.Select(d => (byte[])d.Clone())], "cache.example.test");
        var otherSni = Ours.ForgeFor(upstream, "other.example.test");

        Assert.Same(first, again);
        Assert.NotSame(first, otherSni);
        Assert.Equal(before + 2, Ours.ForgedCount);
    }

    [Fact]
    public void ForgeFor_NoUpstreamChain_IssuesForTheSniValidAroundNow()
    {
        var (leaf, forged, _) = Forge([], "nocert.example.test");
        leaf.Dispose();

        Assert.Equal("CN=nocert.example.test", forged.Subject);
        Assert.Equal(["DNS:nocert.example.test"], forged.SubjectAltNames);
        Assert.True(forged.NotBefore < TlsTestCertificates.Now && forged.NotAfter > TlsTestCertificates.Now);
    }

    [Fact]
    public void ForgeFor_NoUpstreamChainAndSniWithDnSyntax_DoesNotAddSubjectAttributes()
    {
        // The SNI is whatever bytes the client sent. Spliced into "CN=..." text it becomes DN syntax, so
        // a client could put an O= of its choosing into a certificate signed by SmtpLens's CA. Escaping
        // it or refusing it (the interceptor turns ArgumentException into a clean alert) are both fine.
        X500DistinguishedName subject;
        try
        {
            var (leaf, _, _) = Forge([], "evil.example.test, O=Trusted Bank");
            using (leaf)
            {
                subject = leaf.SubjectName;
            }
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return;
        }

        var attributes = subject.EnumerateRelativeDistinguishedNames().Select(r => r.GetSingleElementType().Value).ToList();
        Assert.Equal(["2.5.4.3"], attributes);
    }

    [Fact]
    public void Issue_ValidityBeyondTheCa_IsClampedToTheCa()
    {
        // A certificate cannot outlive its issuer; the CA runs from 2000-01-01 to ten years after "now".
        var identity = Ours.Issue("long.example.test", ["long.example.test"], new DateTimeOffset(1990, 1, 1, 0, 0, 0, TimeSpan.Zero), TlsTestCertificates.Now.AddYears(50));
        var summary = CertificateSummary.FromDer(TlsTestCertificates.Der(identity)[0]);

        Assert.Equal(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), summary.NotBefore);
        Assert.Equal(CertificateSummary.From(Ours.Certificate).NotAfter, summary.NotAfter);
    }

    [Fact]
    public void Issue_BareNames_AreTypedByWhatTheyAre()
    {
        var identity = Ours.Issue("mx.example.test", ["mx.example.test", "192.0.2.25", "2001:db8::25", "::1", "IP:198.51.100.7", "email:postmaster@example.test"], TlsTestCertificates.Now.AddDays(-1), TlsTestCertificates.Now.AddDays(1));

        var summary = CertificateSummary.FromDer(TlsTestCertificates.Der(identity)[0]);

        Assert.Equal(["DNS:mx.example.test", "IP:192.0.2.25", "IP:2001:db8::25", "IP:::1", "IP:198.51.100.7", "email:postmaster@example.test"], summary.SubjectAltNames);
    }

    [Theory]
    [InlineData("IP:not-an-address")]
    [InlineData("URI:relative/path")]
    [InlineData("DNS:")]
    [InlineData("otherName:1.2.3")]
    public void Issue_UnusableName_IsRefusedNotDropped(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => Ours.Issue("mx.example.test", ["mx.example.test", name], TlsTestCertificates.Now.AddDays(-1), TlsTestCertificates.Now.AddDays(1)));

        Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToX509WithKey_IssuedIdentity_HasTheLeafAndAUsablePrivateKey()
    {
        var identity = Ours.Issue("peer.example.test", ["peer.example.test"], TlsTestCertificates.Now.AddDays(-1), TlsTestCertificates.Now.AddDays(1));

        using var certificate = Ours.ToX509WithKey(identity);

        Assert.True(certificate.HasPrivateKey);
        Assert.Equal(TlsTestCertificates.Der(identity)[0], certificate.RawData);
        using var rsa = certificate.GetRSAPrivateKey();
        Assert.NotNull(rsa);
        byte[] data = [1, 2, 3];
        var signature = rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var publicKey = certificate.GetRSAPublicKey();
        Assert.True(publicKey!.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }
}
