using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>TLS_LEGACY_PROTOCOL and TLS_WEAK_CIPHER: negotiated on a leg, or all the sender offered.</summary>
/// <remarks>The upstream leg's ClientHello is SmtpLens's own offer, so only the sender's offer is judged.</remarks>
internal sealed class TlsParametersDetector : IFindingDetector
{
    private static readonly HashSet<string> LegacyVersions = new(StringComparer.Ordinal) { "SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1" };

    /// <summary>Signalling values that are not suites a server could choose.</summary>
    private static readonly HashSet<string> NotSuites = new(StringComparer.Ordinal) { "GREASE", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "TLS_FALLBACK_SCSV" };

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (TlsLegData.From(e) is not { } leg)
        {
            return;
        }

        if (leg.Completed && leg.Version is { } version && LegacyVersions.Contains(version))
        {
            found.Add(FindingCatalog.TlsLegacyProtocol.Create(leg.Leg, $"{version} negotiated on the {leg.LegName} leg", [FindingEvidence.Of(e)], new Dictionary<string, object?> { ["version"] = version, ["negotiated"] = true }));
        }

        if (leg.Completed && leg.CipherSuite is { } suite && WeakReason(suite) is { } why)
        {
            found.Add(FindingCatalog.TlsWeakCipher.Create(leg.Leg, $"weak cipher negotiated on the {leg.LegName} leg: {suite} ({why})", [FindingEvidence.Of(e)], new Dictionary<string, object?> { ["cipherSuite"] = suite, ["weakness"] = why, ["negotiated"] = true }));
        }

        if (!leg.OfferIsSenders || leg.ClientHello is not { } hello)
        {
            return;
        }

        if (EventFields.Text(hello, "maxVersion") is { } max && LegacyVersions.Contains(max))
        {
            found.Add(FindingCatalog.TlsLegacyProtocol.Create(FindingLeg.Client, $"the client offered at most {max}", [FindingEvidence.Of(e)], new Dictionary<string, object?> { ["version"] = max, ["negotiated"] = false }));
        }

        var offered = EventFields.Texts(hello, "cipherSuites").Where(s => !NotSuites.Contains(s)).ToList();
        if (offered.Count > 0 && offered.All(s => WeakReason(s) is not null))
        {
            found.Add(FindingCatalog.TlsWeakCipher.Create(
                FindingLeg.Client,
                $"the client offered only weak cipher suites ({offered.Count}: {string.Join(", ", offered.Take(4))}{(offered.Count > 4 ? ", ..." : string.Empty)})",
                [FindingEvidence.Of(e)],
                new Dictionary<string, object?> { ["offered"] = offered, ["negotiated"] = false }));
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }

    /// <summary>Why a suite (IANA name) is weak, or null. CBC with SHA-1 MACs counts, as Exchange Online and
    /// current guidance treat it; CBC with SHA-256/384 does not.</summary>
    public static string? WeakReason(string suite)
    {
        var name = suite.ToUpperInvariant();
        if (!name.StartsWith("TLS_", StringComparison.Ordinal) && !name.StartsWith("SSL_", StringComparison.Ordinal))
        {
            return null;
        }

        return name switch
        {
            _ when name.Contains("_NULL_", StringComparison.Ordinal) || name.EndsWith("_NULL", StringComparison.Ordinal) || name.Contains("WITH_NULL", StringComparison.Ordinal) => "NULL encryption",
            _ when name.Contains("EXPORT", StringComparison.Ordinal) => "EXPORT",
            _ when name.Contains("_ANON_", StringComparison.Ordinal) => "anonymous, no authentication",
            _ when name.Contains("RC4", StringComparison.Ordinal) => "RC4",
            _ when name.Contains("3DES", StringComparison.Ordinal) || name.Contains("_DES_", StringComparison.Ordinal) || name.Contains("DES40", StringComparison.Ordinal) => "3DES/DES",
            _ when name.Contains("_CBC_", StringComparison.Ordinal) && name.EndsWith("_SHA", StringComparison.Ordinal) => "CBC with SHA-1",
            _ => null,
        };
    }
}
