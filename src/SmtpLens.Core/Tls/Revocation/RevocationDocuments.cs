using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Ocsp;
using Org.BouncyCastle.Security.Certificates;
using Org.BouncyCastle.X509;
using BcCertificate = Org.BouncyCastle.X509.X509Certificate;

namespace SmtpLens.Tls.Revocation;

/// <summary>Where a certificate says its revocation status is published: CRL distribution points and OCSP responders.</summary>
internal sealed record RevocationEndpoints(IReadOnlyList<string> CrlUrls, IReadOnlyList<string> OcspUrls);

/// <summary>The certificate, CRL and OCSP parsing the revocation check needs, through BouncyCastle's parsers. Pure
/// functions over bytes; the HTTP side is <see cref="RevocationChecker"/>.</summary>
internal static class RevocationDocuments
{
    /// <summary>The URIs of the CRL distribution points (full names) and of the AIA OCSP access descriptions.</summary>
    /// <exception cref="FormatException">Not a certificate.</exception>
    public static RevocationEndpoints Endpoints(byte[] certificateDer)
    {
        var cert = Certificate(certificateDer);
        var extensions = cert.TbsCertificate.Extensions;
        var crls = new List<string>();
        var ocsp = new List<string>();
        if (extensions is null)
        {
            return new RevocationEndpoints(crls, ocsp);
        }

        try
        {
            foreach (var point in CrlDistPoint.FromExtensions(extensions)?.GetDistributionPoints() ?? [])
            {
                if (point.DistributionPointName is { Type: DistributionPointName.FullName } name)
                {
                    crls.AddRange(Uris(GeneralNames.GetInstance(name.Name).GetNames()));
                }
            }

            foreach (var access in AuthorityInformationAccess.FromExtensions(extensions)?.GetAccessDescriptions() ?? [])
            {
                if (access.AccessMethod.Equals(AccessDescription.IdADOcsp))
                {
                    ocsp.AddRange(Uris([access.AccessLocation]));
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or InvalidOperationException or IOException)
        {
            throw new FormatException($"unreadable CRL distribution point or AIA extension: {e.Message}", e);
        }

        return new RevocationEndpoints([.. crls.Distinct(StringComparer.Ordinal)], [.. ocsp.Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>What a CRL says about one certificate, checked against its issuer when the chain has it.</summary>
    /// <exception cref="FormatException">Not a CRL (DER or PEM).</exception>
    public static RevocationSourceResult CrlStatus(string url, byte[] crlBytes, byte[] certificateDer, byte[]? issuerDer, DateTimeOffset now)
    {
        X509Crl crl;
        try
        {
            crl = new X509CrlParser().ReadCrl(crlBytes) ?? throw new FormatException("empty CRL response");
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidCastException or CrlException or InvalidOperationException)
        {
            throw new FormatException($"not a CRL: {e.Message}", e);
        }

        var cert = Certificate(certificateDer);
        var issuer = issuerDer is null ? null : Certificate(issuerDer);
        bool? signatureValid = issuer is null ? null : crl.IsSignatureValid(issuer.GetPublicKey());
        var wrongIssuer = !crl.IssuerDN.Equivalent(cert.IssuerDN) ? $"the CRL's issuer {crl.IssuerDN} is not the certificate's issuer {cert.IssuerDN}" : null;
        var entry = crl.GetRevokedCertificate(cert.SerialNumber);
        var status = wrongIssuer is not null || signatureValid == false ? RevocationStatus.Unknown
            : entry is not null ? RevocationStatus.Revoked
            : RevocationStatus.Good;
        return new RevocationSourceResult(
            RevocationSourceKind.Crl,
            url,
            Reachable: true,
            Failure: wrongIssuer ?? (signatureValid == false ? "the CRL is not signed by the certificate's issuer" : null),
            status,
            now,
            ThisUpdate: Utc(crl.ThisUpdate),
            NextUpdate: crl.NextUpdate is { } next ? Utc(next) : null,
            RevokedAt: entry is null ? null : Utc(entry.RevocationDate),
            RevocationReason: entry is null ? null : CrlReasonOf(entry),
            SignatureValid: signatureValid);
    }

    /// <summary>A DER OCSP request for one certificate (SHA-1 CertID, as RFC 5019 responders expect).</summary>
    public static byte[] OcspRequest(byte[] certificateDer, byte[] issuerDer)
    {
        var generator = new OcspReqGenerator();
        generator.AddRequest(new CertificateID(CertificateID.DigestSha1, Certificate(issuerDer), Certificate(certificateDer).SerialNumber));
        return generator.Generate().GetEncoded();
    }

    /// <summary>What an OCSP response says about one certificate.</summary>
    /// <exception cref="FormatException">Not an OCSP response.</exception>
    public static RevocationSourceResult OcspStatus(string url, byte[] responseBytes, byte[] certificateDer, byte[] issuerDer, DateTimeOffset now)
    {
        OcspResp response;
        BasicOcspResp? basic;
        try
        {
            response = new OcspResp(responseBytes);
            basic = response.Status == OcspRespStatus.Successful ? response.GetResponseObject() as BasicOcspResp : null;
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidCastException or OcspException or InvalidOperationException)
        {
            throw new FormatException($"not an OCSP response: {e.Message}", e);
        }

        if (response.Status != OcspRespStatus.Successful || basic is null)
        {
            return new RevocationSourceResult(RevocationSourceKind.Ocsp, url, true, $"the responder answered {OcspStatusName(response.Status)} ({response.Status})", RevocationStatus.Unknown, now);
        }

        var cert = Certificate(certificateDer);
        var issuer = Certificate(issuerDer);
        var single = basic.Responses.FirstOrDefault(r => r.GetCertID().SerialNumber.Equals(cert.SerialNumber) && r.GetCertID().MatchesIssuer(issuer));
        if (single is null)
        {
            return new RevocationSourceResult(RevocationSourceKind.Ocsp, url, true, "the response does not cover this certificate", RevocationStatus.Unknown, now);
        }

        var signatureValid = SignedByIssuer(basic, issuer);
        var (status, revokedAt, reason) = single.GetCertStatus() switch
        {
            null => (RevocationStatus.Good, (DateTimeOffset?)null, (string?)null),
            RevokedStatus revoked => (RevocationStatus.Revoked, (DateTimeOffset?)Utc(revoked.RevocationTime), revoked.HasRevocationReason ? ReasonName(revoked.RevocationReason) : null),
            _ => (RevocationStatus.Unknown, (DateTimeOffset?)null, (string?)null),
        };
        return new RevocationSourceResult(
            RevocationSourceKind.Ocsp,
            url,
            Reachable: true,
            Failure: signatureValid ? null : "the response is not signed by the issuer or a responder it certified",
            signatureValid ? status : RevocationStatus.Unknown,
            now,
            ThisUpdate: Utc(single.ThisUpdate),
            NextUpdate: single.NextUpdate is { } next ? Utc(next) : null,
            RevokedAt: revokedAt,
            RevocationReason: reason,
            SignatureValid: signatureValid);
    }

    /// <summary>The certificate's subject and issuer as RFC 4514-ish text, and its serial in hex.</summary>
    public static (string Subject, string Issuer, string Serial) Describe(byte[] certificateDer)
    {
        var cert = Certificate(certificateDer);
        return (cert.SubjectDN.ToString(), cert.IssuerDN.ToString(), cert.SerialNumber.ToString(16).ToUpperInvariant());
    }

    /// <summary>Whether <paramref name="issuerDer"/> issued <paramref name="certificateDer"/> (name and signature).</summary>
    public static bool Issued(byte[] issuerDer, byte[] certificateDer)
    {
        var cert = Certificate(certificateDer);
        var issuer = Certificate(issuerDer);
        return issuer.SubjectDN.Equivalent(cert.IssuerDN) && cert.IsSignatureValid(issuer.GetPublicKey());
    }

    public static bool SelfIssued(byte[] certificateDer)
    {
        var cert = Certificate(certificateDer);
        return cert.SubjectDN.Equivalent(cert.IssuerDN);
    }

    private static bool SignedByIssuer(BasicOcspResp basic, BcCertificate issuer)
    {
        if (basic.Verify(issuer.GetPublicKey()))
        {
            return true;
        }

        // A delegated responder (RFC 6960 4.2.2.2): its certificate, issued by the CA, rides in the response.
        return basic.GetCerts().Any(responder => responder.IssuerDN.Equivalent(issuer.SubjectDN) && responder.IsSignatureValid(issuer.GetPublicKey()) && basic.Verify(responder.GetPublicKey()));
    }

    private static BcCertificate Certificate(byte[] der)
    {
        try
        {
            return new X509CertificateParser().ReadCertificate(der) ?? throw new FormatException("empty certificate");
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidCastException or CertificateException)
        {
            throw new FormatException($"not a certificate: {e.Message}", e);
        }
    }

    private static IEnumerable<string> Uris(IEnumerable<GeneralName> names) =>
        names.Where(n => n.TagNo == GeneralName.UniformResourceIdentifier).Select(n => DerIA5String.GetInstance(n.Name).GetString());

    private static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));

    private static string? CrlReasonOf(X509CrlEntry entry)
    {
        var extensions = entry.CrlEntry.Extensions;
        var reason = extensions?.GetExtension(X509Extensions.ReasonCode);
        return reason is null ? null : ReasonName(DerEnumerated.GetInstance(reason.GetParsedValue()).IntValueExact);
    }

    /// <summary>RFC 5280 CRLReason names.</summary>
    private static string ReasonName(int reason) => reason switch
    {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => $"reason {reason}",
    };

    private static string OcspStatusName(int status) => status switch
    {
        OcspRespStatus.MalformedRequest => "malformedRequest",
        OcspRespStatus.InternalError => "internalError",
        OcspRespStatus.TryLater => "tryLater",
        OcspRespStatus.SigRequired => "sigRequired",
        OcspRespStatus.Unauthorized => "unauthorized",
        _ => "an unknown status",
    };
}
