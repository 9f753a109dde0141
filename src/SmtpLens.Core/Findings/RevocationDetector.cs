using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>CERT_REVOKED, CERT_REVOCATION_UNREACHABLE and CERT_REVOCATION_STALE from the <c>revocation</c> events that
/// <c>--check-revocation</c> records, one per certificate. They may arrive after the session ended (the check runs off the
/// relay path), so the engine passes them on after completion too.</summary>
internal sealed class RevocationDetector : IFindingDetector
{
    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind != CertificateRevocation.EventKind || CertificateRevocation.FromData(e.Data) is not { } check)
        {
            return;
        }

        var evidence = new[] { FindingEvidence.Of(e) };
        var facts = new Dictionary<string, object?> { ["certificate"] = check.Subject, ["serial"] = check.Serial, ["position"] = check.Position, ["status"] = RevocationSourceResult.StatusName(check.Status) };
        if (check.Status == RevocationStatus.Revoked)
        {
            var said = check.Sources.Where(s => s.Status == RevocationStatus.Revoked).Select(s => s.Describe());
            found.Add(FindingCatalog.CertRevoked.Create(LegOf(check), $"{check.Name} (serial {check.Serial}) is revoked: {string.Join("; ", said)}", evidence, facts));
        }

        var unreachable = check.Unreachable.ToList();
        if (unreachable.Count > 0)
        {
            var noAnswer = check.Status == RevocationStatus.Unknown;
            found.Add(FindingCatalog.CertRevocationUnreachable.Create(
                LegOf(check),
                $"{check.Name}: {string.Join("; ", unreachable.Select(s => s.Describe()))}{(noAnswer ? "; no source gave a status" : $"; status {RevocationSourceResult.StatusName(check.Status)} from another source")}",
                evidence,
                new Dictionary<string, object?>(facts) { ["urls"] = unreachable.Select(s => s.Url).ToList(), ["crlReachable"] = check.CrlReachable },
                severity: noAnswer || check.CrlReachable == false ? FindingSeverity.Error : FindingSeverity.Warning));
        }

        foreach (var stale in check.Sources.Where(s => s.Stale))
        {
            found.Add(FindingCatalog.CertRevocationStale.Create(
                LegOf(check),
                $"{check.Name}: {stale.Describe()}",
                evidence,
                new Dictionary<string, object?>(facts) { ["url"] = stale.Url, ["nextUpdate"] = stale.NextUpdate?.ToString("O", System.Globalization.CultureInfo.InvariantCulture) }));
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
    }

    private static FindingLeg LegOf(CertificateRevocation check) => check.Leg == "client" ? FindingLeg.Client : FindingLeg.Upstream;
}
