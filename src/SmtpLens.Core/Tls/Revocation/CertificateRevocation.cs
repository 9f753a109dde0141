using System.Globalization;
using SmtpLens.Transcripts;

namespace SmtpLens.Tls.Revocation;

internal enum RevocationStatus
{
    Unknown,
    Good,
    Revoked,
}

internal enum RevocationSourceKind
{
    Crl,
    Ocsp,
}

/// <summary>What one CRL distribution point or OCSP responder said about one certificate, when asked.</summary>
/// <param name="Reachable">A CRL or OCSP response was obtained; null when the URL was not asked (ldap:, no issuer for OCSP).</param>
/// <param name="Failure">Why not reachable, or why the answer was no use (not a CRL, responder error, wrong issuer).</param>
/// <param name="SignatureValid">Signed by the issuer (or its delegated OCSP responder); null when the issuer was not in the chain.</param>
internal sealed record RevocationSourceResult(
    RevocationSourceKind Kind,
    string Url,
    bool? Reachable,
    string? Failure,
    RevocationStatus Status,
    DateTimeOffset CheckedAt,
    DateTimeOffset? ThisUpdate = null,
    DateTimeOffset? NextUpdate = null,
    DateTimeOffset? RevokedAt = null,
    string? RevocationReason = null,
    bool? SignatureValid = null)
{
    /// <summary>How old the CRL (or OCSP response) was when it was read.</summary>
    public TimeSpan? Age => ThisUpdate is { } t ? CheckedAt - t : null;

    /// <summary>Past its nextUpdate: a relying party that insists on a current CRL treats the status as unknown.</summary>
    public bool Stale => NextUpdate is { } n && CheckedAt > n;

    public string KindName => Kind == RevocationSourceKind.Crl ? "CRL" : "OCSP";

    public string Describe()
    {
        if (Reachable != true)
        {
            return $"{KindName} {Url} {(Reachable == false ? "unreachable" : "not asked")}: {Failure}";
        }

        var when = ThisUpdate is { } t
            ? string.Create(CultureInfo.InvariantCulture, $", thisUpdate {t:yyyy-MM-ddTHH:mm:ssZ}, nextUpdate {(NextUpdate is { } n ? n.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) : "(none)")}, age {Age!.Value.TotalHours:0.#} h{(Stale ? ", STALE (past nextUpdate)" : string.Empty)}")
            : string.Empty;
        var revoked = RevokedAt is { } r ? string.Create(CultureInfo.InvariantCulture, $" at {r:yyyy-MM-ddTHH:mm:ssZ}{(RevocationReason is null ? string.Empty : $" ({RevocationReason})")}") : string.Empty;
        var signature = SignatureValid switch { true => string.Empty, false => ", signature NOT valid", null => ", signature not checked (issuer not in chain)" };
        return $"{KindName} {Url}: {StatusName(Status)}{revoked}{when}{signature}{(Failure is null ? string.Empty : $" ({Failure})")}";
    }

    public static string StatusName(RevocationStatus status) => status.ToString().ToLowerInvariant();

    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["kind"] = KindName,
        ["url"] = Url,
        ["reachable"] = Reachable,
        ["failure"] = Failure,
        ["status"] = StatusName(Status),
        ["checkedAt"] = Stamp(CheckedAt),
        ["thisUpdate"] = Stamp(ThisUpdate),
        ["nextUpdate"] = Stamp(NextUpdate),
        ["ageSeconds"] = Age is { } a ? (long)a.TotalSeconds : null,
        ["stale"] = Stale,
        ["revokedAt"] = Stamp(RevokedAt),
        ["revocationReason"] = RevocationReason,
        ["signatureValid"] = SignatureValid,
    };

    public static RevocationSourceResult? FromData(IReadOnlyDictionary<string, object?> data)
    {
        if (EventFields.Text(data, "url") is not { } url || Time(data, "checkedAt") is not { } checkedAt)
        {
            return null;
        }

        return new RevocationSourceResult(
            EventFields.Text(data, "kind") == "OCSP" ? RevocationSourceKind.Ocsp : RevocationSourceKind.Crl,
            url,
            EventFields.Bool(data, "reachable"),
            EventFields.Text(data, "failure"),
            ParseStatus(EventFields.Text(data, "status")),
            checkedAt,
            Time(data, "thisUpdate"),
            Time(data, "nextUpdate"),
            Time(data, "revokedAt"),
            EventFields.Text(data, "revocationReason"),
            EventFields.Bool(data, "signatureValid"));
    }

    internal static RevocationStatus ParseStatus(string? name) => name switch
    {
        "good" => RevocationStatus.Good,
        "revoked" => RevocationStatus.Revoked,
        _ => RevocationStatus.Unknown,
    };

    private static string? Stamp(DateTimeOffset? t) => t?.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static DateTimeOffset? Time(IReadOnlyDictionary<string, object?> data, string key) =>
        DateTimeOffset.TryParse(EventFields.Text(data, key), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}

/// <summary>The revocation check of one certificate of a chain a peer presented: every CRL distribution point and OCSP
/// responder it names, asked off the relay path. This is the input policy verdicts use (Exchange's "the CRL must be
/// reachable" rule): <see cref="CrlReachable"/>, <see cref="Status"/>, <see cref="Stale"/>.</summary>
/// <param name="Leg">"client" for the sender's client certificate chain; "upstream" or "passthrough" for the server's.</param>
/// <param name="Position">0 for the leaf, 1 for the certificate that issued it, and so on.</param>
internal sealed record CertificateRevocation(
    string Leg,
    int Position,
    string Subject,
    string Issuer,
    string Serial,
    IReadOnlyList<RevocationSourceResult> Sources)
{
    /// <summary>The transcript event kind of one certificate's result.</summary>
    public const string EventKind = "revocation";

    /// <summary>Revoked when any source says so; good when a reachable source says so; else unknown.</summary>
    public RevocationStatus Status =>
        Sources.Any(s => s.Status == RevocationStatus.Revoked) ? RevocationStatus.Revoked
        : Sources.Any(s => s.Status == RevocationStatus.Good) ? RevocationStatus.Good
        : RevocationStatus.Unknown;

    /// <summary>Every CRL distribution point could be read (null when the certificate names none).</summary>
    public bool? CrlReachable => Sources.Any(s => s.Kind == RevocationSourceKind.Crl) ? Sources.Where(s => s.Kind == RevocationSourceKind.Crl).All(s => s.Reachable == true) : null;

    public IEnumerable<RevocationSourceResult> Unreachable => Sources.Where(s => s.Reachable == false);

    public bool Stale => Sources.Any(s => s.Stale);

    /// <summary>"upstream certificate [0] CN=mx.example.org".</summary>
    public string Name => $"{Leg} {(Leg == "client" ? "client certificate" : "certificate")} [{Position}] {Subject}";

    public string Describe() => Sources.Count == 0
        ? $"{Name} (serial {Serial}): no CRL distribution point or OCSP responder named"
        : $"{Name} (serial {Serial}): {RevocationSourceResult.StatusName(Status)}; " + string.Join("; ", Sources.Select(s => s.Describe()));

    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["leg"] = Leg,
        ["position"] = Position,
        ["subject"] = Subject,
        ["issuer"] = Issuer,
        ["serial"] = Serial,
        ["status"] = RevocationSourceResult.StatusName(Status),
        ["crlReachable"] = CrlReachable,
        ["sources"] = Sources.Select(s => s.ToData()).ToList(),
    };

    /// <summary>Rebuilds the record from a <c>revocation</c> event (live, or parsed back from a <c>.jsonl</c>).</summary>
    public static CertificateRevocation? FromData(IReadOnlyDictionary<string, object?>? data)
    {
        if (EventFields.Text(data, "leg") is not { } leg || EventFields.Text(data, "subject") is not { } subject)
        {
            return null;
        }

        return new CertificateRevocation(
            leg,
            EventFields.Int(data, "position") ?? 0,
            subject,
            EventFields.Text(data, "issuer") ?? string.Empty,
            EventFields.Text(data, "serial") ?? string.Empty,
            [.. EventFields.Maps(data, "sources").Select(RevocationSourceResult.FromData).OfType<RevocationSourceResult>()]);
    }
}
