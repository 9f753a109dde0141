using System.Globalization;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>CERT_EXPIRED, CERT_NOT_YET_VALID, CERT_UNTRUSTED, CERT_NAME_MISMATCH and CERT_WILDCARD for the
/// upstream's certificate (upstream or passthrough leg) and for any certificate the sender presented.</summary>
/// <remarks>Validity is judged at the event's own timestamp, so a saved transcript gives the same answer later.
/// The client leg's server certificate is SmtpLens's forgery and is never judged.</remarks>
internal sealed class CertificateDetector : IFindingDetector
{
    private bool _namesChecked;
    private TranscriptEvent? _leafEvent;
    private TranscriptEvent? _validationEvent;
    private string? _mxName;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        // The certificate line and the validation line come just before the leg's summary event; they are the evidence.
        if (e.Kind == EventKinds.TlsCertificate && _leafEvent is null && (e.Text.StartsWith("upstream leg upstream certificate [0]", StringComparison.Ordinal) || e.Text.StartsWith("upstream certificate [0]", StringComparison.Ordinal)))
        {
            _leafEvent = e;
        }
        else if (e.Kind == EventKinds.TlsHandshake && e.Text.StartsWith("upstream certificate validation", StringComparison.Ordinal))
        {
            _validationEvent = e;
        }
        else if (e.Kind == EventKinds.UpstreamConnect && EventFields.Text(e.Data, "mx") is { } mx)
        {
            // probe --mx: the MX host name is the name a verifying sender checks, whatever address was dialled.
            _mxName = mx;
        }

        if (TlsLegData.From(e) is not { } leg)
        {
            return;
        }

        if (leg.CertificateIsUpstreams && EventFields.Maps(leg.Data, "serverCertificates").FirstOrDefault() is { } leaf)
        {
            CheckValidity(leaf, "upstream", FindingLeg.Upstream, e, Evidence(e), found);
            CheckTrust(leg, leaf, Evidence(e), found);
            CheckWildcard(leaf, "upstream", FindingLeg.Upstream, Evidence(e), found);
            if (!_namesChecked)
            {
                _namesChecked = true;
                CheckNames(leg, leaf, found);
            }
        }

        if (leg.LegName == "client" && EventFields.Maps(leg.Data, "clientCertificates").FirstOrDefault() is { } sender)
        {
            CheckValidity(sender, "client", FindingLeg.Client, e, [FindingEvidence.Of(e)], found);
            CheckWildcard(sender, "client", FindingLeg.Client, [FindingEvidence.Of(e)], found);
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }

    private List<FindingEvidence> Evidence(TranscriptEvent leg) =>
        [.. new[] { _leafEvent, _validationEvent, leg }.OfType<TranscriptEvent>().Select(FindingEvidence.Of)];

    private static void CheckValidity(IReadOnlyDictionary<string, object?> cert, string owner, FindingLeg leg, TranscriptEvent e, List<FindingEvidence> evidence, List<Finding> found)
    {
        var name = Describe(cert);
        var at = FindingEngine.Millisecond(e.Timestamp);
        if (Date(cert, "notAfter") is { } notAfter && notAfter < at)
        {
            found.Add(FindingCatalog.CertExpired.Create(leg, $"the {owner} certificate {name} expired {notAfter:yyyy-MM-dd HH:mm} UTC", evidence, Facts(cert)));
        }

        if (Date(cert, "notBefore") is { } notBefore && notBefore > at)
        {
            found.Add(FindingCatalog.CertNotYetValid.Create(leg, $"the {owner} certificate {name} is valid only from {notBefore:yyyy-MM-dd HH:mm} UTC", evidence, Facts(cert)));
        }
    }

    private static void CheckTrust(TlsLegData leg, IReadOnlyDictionary<string, object?> leaf, List<FindingEvidence> evidence, List<Finding> found)
    {
        if (EventFields.Bool(leg.Data, "chainTrusted") != false)
        {
            return;
        }

        var selfSigned = EventFields.Text(leaf, "subject") == EventFields.Text(leaf, "issuer");
        var status = EventFields.Text(leg.Data, "chainStatus") ?? "not trusted";
        var title = selfSigned
            ? $"the upstream certificate chain is not trusted: self-signed ({Describe(leaf)})"
            : $"the upstream certificate chain is not trusted: issuer \"{EventFields.Text(leaf, "issuer")}\" ({status})";
        found.Add(FindingCatalog.CertUntrusted.Create(FindingLeg.Upstream, title, evidence, new Dictionary<string, object?>(Facts(leaf)) { ["chainStatus"] = status, ["selfSigned"] = selfSigned }));
    }

    private static void CheckWildcard(IReadOnlyDictionary<string, object?> cert, string owner, FindingLeg leg, List<FindingEvidence> evidence, List<Finding> found)
    {
        var wildcards = Names(cert).Where(n => n.StartsWith("*.", StringComparison.Ordinal)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (wildcards.Count > 0)
        {
            found.Add(FindingCatalog.CertWildcard.Create(leg, $"the {owner} certificate has a wildcard name: {string.Join(", ", wildcards)}", evidence, new Dictionary<string, object?>(Facts(cert)) { ["wildcards"] = wildcards }));
        }
    }

    /// <summary>The host name SmtpLens checked and, when the upstream came from MX records, the MX host name: the names
    /// a verifying sender checks. The names the server calls itself are EHLO_NAME_NOT_IN_CERTIFICATE's.</summary>
    private void CheckNames(TlsLegData leg, IReadOnlyDictionary<string, object?> leaf, List<Finding> found)
    {
        var names = Names(leaf).ToList();
        var misses = new List<(string Name, string Role)>();
        if (EventFields.Bool(leg.Data, "nameMatches") == false && EventFields.Text(leg.Data, "nameChecked") is { } host)
        {
            misses.Add((host, "host name used"));
        }

        if (_mxName is { } mx && IsDnsName(mx) && !Covers(names, mx))
        {
            misses.Add((mx, "MX host name"));
        }

        var uncovered = misses
            .GroupBy(m => m.Name.TrimEnd('.'), StringComparer.OrdinalIgnoreCase)
            .Select(g => $"{g.Key} ({string.Join(", ", g.Select(m => m.Role))})")
            .ToList();
        if (uncovered.Count > 0)
        {
            found.Add(FindingCatalog.CertNameMismatch.Create(
                FindingLeg.Upstream,
                $"the upstream certificate ({Describe(leaf)}) does not cover {string.Join(", ", uncovered)}",
                Evidence(leg.Event),
                new Dictionary<string, object?>(Facts(leaf)) { ["uncovered"] = uncovered }));
        }
    }

    /// <summary>The first word after the code of the greeting's first line, when it is a DNS name.</summary>
    internal static string? BannerName(DialogueView view)
    {
        if (view.Greeting is not { Lines.Count: > 0 } greeting || greeting.Lines[0].Text.Length < 5)
        {
            return null;
        }

        var first = greeting.Lines[0].Text[4..].Split(' ', 2)[0];
        return IsDnsName(first) ? first : null;
    }

    internal static bool IsDnsName(string name) =>
        name.Contains('.', StringComparison.Ordinal) && !name.StartsWith('[') && !System.Net.IPAddress.TryParse(name, out _) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-');

    /// <summary>RFC 6125: exact, or a wildcard label covering exactly one left-most label. SAN DNS names, or the CN without them.</summary>
    public static bool Covers(IReadOnlyList<string> names, string host)
    {
        host = host.TrimEnd('.');
        foreach (var name in names)
        {
            if (name.Equals(host, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            var dot = host.IndexOf('.', StringComparison.Ordinal);
            if (name.StartsWith("*.", StringComparison.Ordinal) && dot > 0 && host[(dot + 1)..].Equals(name[2..], StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The names a certificate answers to: its SAN DNS names, or the CN when it has none (RFC 6125 6.4.4).</summary>
    internal static IEnumerable<string> Names(IReadOnlyDictionary<string, object?> cert)
    {
        var dns = EventFields.Texts(cert, "san").Where(n => n.StartsWith("DNS:", StringComparison.Ordinal)).Select(n => n[4..]).ToList();
        return dns.Count > 0 || EventFields.Text(cert, "cn") is not { } cn ? dns : [cn];
    }

    internal static string Describe(IReadOnlyDictionary<string, object?> cert)
    {
        var san = EventFields.Texts(cert, "san").ToList();
        return $"CN={EventFields.Text(cert, "cn") ?? "(none)"}{(san.Count > 0 ? $" SAN=[{string.Join(", ", san)}]" : string.Empty)}";
    }

    private static DateTimeOffset? Date(IReadOnlyDictionary<string, object?> cert, string key) =>
        DateTimeOffset.TryParse(EventFields.Text(cert, key), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) ? d : null;

    private static Dictionary<string, object?> Facts(IReadOnlyDictionary<string, object?> cert) => new()
    {
        ["subject"] = EventFields.Text(cert, "subject"),
        ["issuer"] = EventFields.Text(cert, "issuer"),
        ["notBefore"] = EventFields.Text(cert, "notBefore"),
        ["notAfter"] = EventFields.Text(cert, "notAfter"),
        ["sha256"] = EventFields.Text(cert, "sha256"),
    };
}
