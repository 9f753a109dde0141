using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SmtpLens.IO;

namespace SmtpLens.Tls;

/// <summary>The interception CA: issues leaf certificates that mirror the upstream's names.</summary>
/// <remarks>No private key of a real certificate is ever needed: the forged leaf carries the upstream's subject
/// and names, our key, and our CA's signature. One leaf key per key type and CA instance serves every forged leaf
/// (as sslsplit does), because generating a key per upstream would cost ~100 ms per new upstream. Forged server
/// leaves are ECDSA P-256 for clients that accept it: signing with it costs a fraction of an RSA-2048 signature.</remarks>
internal sealed class CertificateAuthority : IDisposable
{
    public const string CertificateFile = "smtplens-ca.pem";
    public const string KeyFile = "smtplens-ca.key";

    /// <summary>The CA's own validity starts far back so mirrored certificates, even expired ones, fit inside it.</summary>
    private static readonly DateTimeOffset EarliestNotBefore = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly RSA _key;
    private readonly Lazy<RSA> _leafKey = new(() => RSA.Create(2048));
    private readonly Lazy<ECDsa> _ecLeafKey = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP256));
    private readonly ConcurrentDictionary<string, TlsIdentity> _forged = new();
    private readonly TimeProvider _time;

    private CertificateAuthority(X509Certificate2 certificate, RSA key, TimeProvider time)
    {
        Certificate = certificate;
        _key = key;
        _time = time;
    }

    public X509Certificate2 Certificate { get; }

    public string Sha256Fingerprint => Convert.ToHexString(SHA256.HashData(Certificate.RawData));

    public int ForgedCount => _forged.Count;

    public static CertificateAuthority CreateEphemeral(TimeProvider time, string name = "SmtpLens Interception CA")
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}, O=SmtpLens", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var certificate = request.CreateSelfSigned(EarliestNotBefore, time.GetUtcNow().AddYears(10));
        return new CertificateAuthority(X509CertificateLoader.LoadCertificate(certificate.RawData), key, time);
    }

    /// <summary>Creates a CA in <paramref name="directory"/>; the key file is created with mode 0600.</summary>
    public static CertificateAuthority Create(string directory, TimeProvider time, bool overwrite = false)
    {
        Directory.CreateDirectory(directory);
        var certPath = Path.Combine(directory, CertificateFile);
        var keyPath = Path.Combine(directory, KeyFile);
        if (!overwrite && (File.Exists(certPath) || File.Exists(keyPath)))
        {
            throw new IOException($"a CA already exists in {directory}; use --force to replace it");
        }

        var ca = CreateEphemeral(time);
        PemFiles.WritePrivate(keyPath, ca._key.ExportPkcs8PrivateKeyPem(), overwrite);
        File.WriteAllText(certPath, ca.Certificate.ExportCertificatePem() + "\n");
        return ca;
    }

    public static bool ExistsIn(string directory) =>
        File.Exists(Path.Combine(directory, CertificateFile)) && File.Exists(Path.Combine(directory, KeyFile));

    public static CertificateAuthority Load(string directory, TimeProvider time)
    {
        var certPath = Path.Combine(directory, CertificateFile);
        var keyPath = Path.Combine(directory, KeyFile);
        if (!File.Exists(certPath) || !File.Exists(keyPath))
        {
            throw new FileNotFoundException($"no CA in {directory} ({CertificateFile} and {KeyFile}); create one with: smtplens ca init --dir {directory}");
        }

        PemFiles.RequirePrivateMode(keyPath);
        var key = RSA.Create();
        key.ImportFromPem(File.ReadAllText(keyPath));
        var certificate = X509CertificateLoader.LoadCertificate(X509Certificate2.CreateFromPem(File.ReadAllText(certPath)).RawData);

        // A key from another CA would sign forgeries no client can verify; say so now, not per handshake.
        using var certificateKey = certificate.GetRSAPublicKey();
        if (certificateKey is null || !certificateKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            certificate.Dispose();
            key.Dispose();
            throw new InvalidDataException($"{KeyFile} in {directory} is not the key of {CertificateFile}: the two files come from different CAs; recreate them with: smtplens ca init --dir {directory} --force");
        }

        return new CertificateAuthority(certificate, key, time);
    }

    /// <summary>A leaf that mirrors the upstream's leaf: subject, every SAN, the SNI if missing, its validity window.</summary>
    /// <remarks>Cached per upstream certificate (SHA-256 of its DER), SNI and key type: a session costs no forging
    /// once its upstream has been seen.</remarks>
    /// <param name="ecdsa">An ECDSA P-256 leaf instead of RSA-2048 (see <see cref="ForgedLeafKey"/>).</param>
    public TlsIdentity ForgeFor(IReadOnlyList<byte[]> upstreamChain, string? serverName, bool ecdsa = false)
    {
        var cacheKey = (ecdsa ? "ec|" : "rsa|") + (upstreamChain.Count > 0 ? Convert.ToHexString(SHA256.HashData(upstreamChain[0])) : "none") + "|" + serverName;
        return _forged.GetOrAdd(cacheKey, _ => Forge(upstreamChain, serverName, ecdsa));
    }

    private TlsIdentity Forge(IReadOnlyList<byte[]> upstreamChain, string? serverName, bool ecdsa)
    {
        if (upstreamChain.Count == 0)
        {
            var now = _time.GetUtcNow();
            return Issue(SubjectFor(serverName ?? "smtplens.invalid"), serverName is null ? [] : [Typed(serverName)], now.AddDays(-1), now.AddDays(90), ecdsa: ecdsa);
        }

        using var original = X509CertificateLoader.LoadCertificate(upstreamChain[0]);
        var summary = CertificateSummary.From(original);
        var names = new List<string>(summary.SubjectAltNames);
        if (serverName is not null && !summary.Matches(serverName))
        {
            names.Add("DNS:" + serverName);
        }

        if (names.Count == 0 && summary.CommonName is { } cn)
        {
            names.Add("DNS:" + cn);
        }

        // The CRL distribution points too, so a sender that fetches the CRL meets the upstream's (un)reachable one.
        var distributionPoints = original.Extensions.Where(e => e.Oid?.Value == "2.5.29.31").Select(e => new X509Extension(e.Oid!, e.RawData, e.Critical)).ToList();
        return Issue(original.SubjectName, names, summary.NotBefore, summary.NotAfter, serverAuth: true, mirroring: true, extensions: distributionPoints, ecdsa: ecdsa);
    }

    /// <summary>A client certificate that mirrors the sending MTA's: its subject, every SAN, its validity window.</summary>
    /// <remarks>The upstream sees our CA as issuer, so connectors that match on issuer or thumbprint still differ.</remarks>
    public TlsIdentity ForgeClientFor(IReadOnlyList<byte[]> clientChain)
    {
        ArgumentOutOfRangeException.ThrowIfZero(clientChain.Count);
        return _forged.GetOrAdd("client|" + Convert.ToHexString(SHA256.HashData(clientChain[0])), _ =>
        {
            using var original = X509CertificateLoader.LoadCertificate(clientChain[0]);
            var summary = CertificateSummary.From(original);

            // The SAN extension is copied whole, so e-mail and URI names survive too.
            var san = original.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
            return Issue(original.SubjectName, [], summary.NotBefore, summary.NotAfter, serverAuth: false, clientAuth: true, san is null ? null : new X509Extension(san.Oid!, san.RawData, san.Critical));
        });
    }

    /// <summary>Issues a certificate for lab peers and tests: valid, expired, wildcard, whatever a scenario needs.</summary>
    /// <param name="names">Subject alternative names: <c>DNS:</c>, <c>IP:</c>, <c>email:</c> or <c>URI:</c>; a bare IP
    /// address (IPv4 or IPv6) is an IP name and any other bare name a DNS name.</param>
    /// <param name="extensions">Further extensions, e.g. CRL distribution points and AIA for revocation scenarios.</param>
    public TlsIdentity Issue(string commonName, IEnumerable<string> names, DateTimeOffset notBefore, DateTimeOffset notAfter, bool clientAuth = false, IEnumerable<X509Extension>? extensions = null) =>
        Issue(SubjectFor(commonName), [.. names.Select(Typed)], notBefore, notAfter, serverAuth: !clientAuth, clientAuth: clientAuth, extensions: extensions);

    private static readonly string[] SanPrefixes = ["DNS:", "IP:", "email:", "URI:"];

    private static string Typed(string name) =>
        SanPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) ? name
        : System.Net.IPAddress.TryParse(name, out _) ? "IP:" + name
        : name.Contains(':', StringComparison.Ordinal) ? name // an unknown type: refused below, not taken for a host name
        : "DNS:" + name;

    /// <summary>Built attribute by attribute, so a name like "a, O=Bank" stays one CN instead of becoming two RDNs.</summary>
    private static X500DistinguishedName SubjectFor(string commonName)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(commonName);
        return builder.Build();
    }

    private static bool TryAdd(SubjectAlternativeNameBuilder san, string name)
    {
        if (name.StartsWith("IP:", StringComparison.Ordinal) && System.Net.IPAddress.TryParse(name[3..], out var ip))
        {
            san.AddIpAddress(ip);
        }
        else if (name.StartsWith("DNS:", StringComparison.Ordinal) && name.Length > 4)
        {
            san.AddDnsName(name[4..]);
        }
        else if (name.StartsWith("email:", StringComparison.Ordinal) && name.Length > 6)
        {
            san.AddEmailAddress(name[6..]);
        }
        else if (name.StartsWith("URI:", StringComparison.Ordinal) && Uri.TryCreate(name[4..], UriKind.Absolute, out var uri))
        {
            san.AddUri(uri);
        }
        else
        {
            return false;
        }

        return true;
    }

    private TlsIdentity Issue(X500DistinguishedName subject, IReadOnlyList<string> names, DateTimeOffset notBefore, DateTimeOffset notAfter, bool serverAuth = true, bool clientAuth = true, X509Extension? rawSubjectAltName = null, bool mirroring = false, IEnumerable<X509Extension>? extensions = null, bool ecdsa = false)
    {
        AsymmetricAlgorithm key = ecdsa ? _ecLeafKey.Value : _leafKey.Value;
        var request = ecdsa
            ? new CertificateRequest(subject, _ecLeafKey.Value, HashAlgorithmName.SHA256)
            : new CertificateRequest(subject, _leafKey.Value, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));

        // RFC 5480: an ECDSA key signs; only an RSA key also enciphers (static RSA key exchange).
        request.CertificateExtensions.Add(new X509KeyUsageExtension(ecdsa ? X509KeyUsageFlags.DigitalSignature : X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        var usages = new OidCollection();
        if (serverAuth)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        }

        if (clientAuth)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        if (names.Count > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            var added = 0;
            foreach (var name in names)
            {
                if (TryAdd(san, name))
                {
                    added++;
                }
                else if (!mirroring)
                {
                    // A mirror copies what it can of someone else's names; a name we were asked for must not be dropped.
                    throw new ArgumentException($"unusable subject alternative name \"{name}\" (DNS:, IP:, email: or URI: with a valid value)", nameof(names));
                }
            }

            if (added > 0)
            {
                request.CertificateExtensions.Add(san.Build());
            }
        }
        else if (rawSubjectAltName is not null)
        {
            request.CertificateExtensions.Add(rawSubjectAltName);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        foreach (var extension in extensions ?? [])
        {
            request.CertificateExtensions.Add(extension);
        }

        var from = notBefore < Certificate.NotBefore ? new DateTimeOffset(Certificate.NotBefore.ToUniversalTime()) : notBefore;
        var to = notAfter > Certificate.NotAfter ? new DateTimeOffset(Certificate.NotAfter.ToUniversalTime()) : notAfter;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var leaf = request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForRSA(_key, RSASignaturePadding.Pkcs1), from, to, serial);
        return TlsIdentity.From([leaf.RawData, Certificate.RawData], key.ExportPkcs8PrivateKey());
    }

    /// <summary>The issued identity as .NET certificates, for peers built on SslStream.</summary>
    public X509Certificate2 ToX509WithKey(TlsIdentity identity)
    {
        var der = identity.ChainDer[0];
        using var publicOnly = X509CertificateLoader.LoadCertificate(der);
        using var withKey = identity.IsEc ? publicOnly.CopyWithPrivateKey(_ecLeafKey.Value) : publicOnly.CopyWithPrivateKey(_leafKey.Value);
        // Round-trip through PKCS#12 so the key is usable by SslStream on Linux.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        _key.Dispose();
        if (_leafKey.IsValueCreated)
        {
            _leafKey.Value.Dispose();
        }

        if (_ecLeafKey.IsValueCreated)
        {
            _ecLeafKey.Value.Dispose();
        }

        Certificate.Dispose();
    }
}

/// <summary>Private keys on disk: created 0600, and refused when group or others can read them.</summary>
internal static class PemFiles
{
    public static void WritePrivate(string path, string pem, bool overwrite = false)
    {
        using (var stream = PrivateFiles.Open(path, overwrite ? FileMode.Create : FileMode.CreateNew))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(pem);
            writer.Write('\n');
        }

        // An existing file keeps its old mode on overwrite; make it 0600 either way.
        PrivateFiles.Restrict(path);
    }

    public static void RequirePrivateMode(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            throw new UnauthorizedAccessException($"{path} is readable by group or others (mode {Convert.ToString((int)mode, 8)}); run: chmod 600 {path}");
        }
    }
}
