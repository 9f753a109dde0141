using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SmtpLens.Tls;

/// <summary>Everything about one certificate that decides connector matching and trust.</summary>
internal sealed record CertificateSummary(
    string Subject,
    string? CommonName,
    IReadOnlyList<string> SubjectAltNames,
    string Issuer,
    string Serial,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    string KeyType,
    int KeySize,
    string SignatureAlgorithm,
    string Sha256Fingerprint)
{
    public bool IsSelfIssued => Subject == Issuer;

    public bool HasWildcard => (CommonName?.StartsWith("*.", StringComparison.Ordinal) ?? false) || SubjectAltNames.Any(n => n.StartsWith("DNS:*.", StringComparison.Ordinal));

    /// <summary>The DNS names a peer would match against: SAN dNSNames, or the CN when there are none.</summary>
    public IEnumerable<string> DnsNames
    {
        get
        {
            var dns = SubjectAltNames.Where(n => n.StartsWith("DNS:", StringComparison.Ordinal)).Select(n => n[4..]).ToList();
            return dns.Count > 0 || CommonName is null ? dns : [CommonName];
        }
    }

    /// <summary>The certificate as presented, when it was read from the wire (revocation checks need it); not serialized.</summary>
    public byte[]? Der { get; init; }

    public static CertificateSummary FromDer(byte[] der)
    {
        using var cert = X509CertificateLoader.LoadCertificate(der);
        return From(cert) with { Der = der };
    }

    public static CertificateSummary From(X509Certificate2 cert)
    {
        var sans = new List<string>();
        foreach (var ext in cert.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            sans.AddRange(ext.EnumerateDnsNames().Select(n => "DNS:" + n));
            sans.AddRange(ext.EnumerateIPAddresses().Select(ip => "IP:" + ip));
            sans.AddRange(OtherNames(ext.RawData));
        }

        var (keyType, keySize) = cert.PublicKey.Oid.Value switch
        {
            "1.2.840.113549.1.1.1" => ("RSA", cert.GetRSAPublicKey()?.KeySize ?? 0),
            "1.2.840.10045.2.1" => ("EC", cert.GetECDsaPublicKey()?.KeySize ?? 0),
            "1.2.840.10040.4.1" => ("DSA", cert.GetDSAPublicKey()?.KeySize ?? 0),
            var other => (cert.PublicKey.Oid.FriendlyName ?? other ?? "unknown", 0),
        };

        return new CertificateSummary(
            cert.Subject,
            CommonNameOf(cert.SubjectName),
            sans,
            cert.Issuer,
            cert.SerialNumber,
            new DateTimeOffset(cert.NotBefore.ToUniversalTime(), TimeSpan.Zero),
            new DateTimeOffset(cert.NotAfter.ToUniversalTime(), TimeSpan.Zero),
            keyType,
            keySize,
            cert.SignatureAlgorithm.FriendlyName ?? cert.SignatureAlgorithm.Value ?? "unknown",
            Convert.ToHexString(SHA256.HashData(cert.RawData)));
    }

    /// <summary>rfc822Name and URI entries, which .NET does not enumerate; client certificates often carry them.</summary>
    private static List<string> OtherNames(byte[] sanExtension)
    {
        var names = new List<string>();
        try
        {
            var sequence = new AsnReader(sanExtension, AsnEncodingRules.DER).ReadSequence();
            while (sequence.HasData)
            {
                var tag = sequence.PeekTag();
                if (tag.TagClass == TagClass.ContextSpecific && tag.TagValue is 1 or 6)
                {
                    var value = sequence.ReadCharacterString(UniversalTagNumber.IA5String, tag);
                    names.Add((tag.TagValue == 1 ? "email:" : "URI:") + value);
                }
                else
                {
                    sequence.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
            // A malformed extension keeps whatever .NET could read from it.
        }

        return names;
    }

    /// <summary>The subject's CN attribute only: .NET's SimpleName would fall back to O or e-mail, which no peer matches.</summary>
    private static string? CommonNameOf(X500DistinguishedName subject) =>
        subject.EnumerateRelativeDistinguishedNames()
            .Where(r => !r.HasMultipleElements && r.GetSingleElementType().Value == "2.5.4.3")
            .Select(r => r.GetSingleElementValue())
            .LastOrDefault(v => !string.IsNullOrEmpty(v));

    /// <summary>RFC 6125 matching: exact, or one wildcard label on the left that covers exactly one label.</summary>
    public bool Matches(string host)
    {
        host = host.TrimEnd('.');
        foreach (var name in DnsNames)
        {
            if (name.Equals(host, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (name.StartsWith("*.", StringComparison.Ordinal))
            {
                var dot = host.IndexOf('.');
                if (dot > 0 && host[(dot + 1)..].Equals(name[2..], StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return SubjectAltNames.Contains("IP:" + host);
    }

    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["subject"] = Subject,
        ["cn"] = CommonName,
        ["san"] = SubjectAltNames,
        ["issuer"] = Issuer,
        ["serial"] = Serial,
        ["notBefore"] = NotBefore.ToString("o", CultureInfo.InvariantCulture),
        ["notAfter"] = NotAfter.ToString("o", CultureInfo.InvariantCulture),
        ["keyType"] = KeyType,
        ["keySize"] = KeySize,
        ["signatureAlgorithm"] = SignatureAlgorithm,
        ["sha256"] = Sha256Fingerprint,
    };

    public string Describe() =>
        $"subject CN={CommonName ?? "(none)"} SAN=[{string.Join(", ", SubjectAltNames)}] issuer \"{Issuer}\" valid {NotBefore:yyyy-MM-dd}..{NotAfter:yyyy-MM-dd} {KeyType}-{KeySize} {SignatureAlgorithm} sha256 {Sha256Fingerprint}";
}
