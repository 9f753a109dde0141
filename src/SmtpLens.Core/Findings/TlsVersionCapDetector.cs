using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>TLS_VERSION_CAPPED_UPSTREAM: the sender offered TLS 1.3 and the upstream chose less.</summary>
/// <remarks>Judged at the end: the client and upstream legs are recorded in either order. On an intercepted
/// session SmtpLens's own upstream offer must have included 1.3 too, or the cap was SmtpLens's (--tls-max-version).
/// A passthrough leg carries the sender's offer and the upstream's choice in one record.</remarks>
internal sealed class TlsVersionCapDetector : IFindingDetector
{
    private const string Tls13 = "TLSv1.3";
    private TranscriptEvent? _senderOffer;
    private string? _senderMax;
    private TlsLegData? _upstream;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (TlsLegData.From(e) is not { } leg)
        {
            return;
        }

        if (leg.OfferIsSenders && leg.ClientHello is { } hello && EventFields.Text(hello, "maxVersion") is { } max)
        {
            _senderOffer = e;
            _senderMax = max;
        }

        if (leg.LegName is "upstream" or "passthrough" && leg.Completed && leg.Version is not null)
        {
            _upstream = leg;
        }
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
        if (_senderMax != Tls13 || _upstream is not { Version: { } chosen } upstream || chosen == Tls13)
        {
            return;
        }

        var passthrough = upstream.LegName == "passthrough";
        if (!passthrough && (upstream.ClientHello is not { } ours || EventFields.Text(ours, "maxVersion") != Tls13))
        {
            return;
        }

        List<FindingEvidence> evidence = _senderOffer is { } offer && offer != upstream.Event ? [FindingEvidence.Of(offer), FindingEvidence.Of(upstream.Event)] : [FindingEvidence.Of(upstream.Event)];
        found.Add(FindingCatalog.TlsVersionCappedUpstream.Create(
            FindingLeg.Upstream,
            passthrough ? $"the sender offered {Tls13}, but the upstream chose {chosen}" : $"the sender offered {Tls13} and SmtpLens offered it upstream, but the upstream chose {chosen}",
            evidence,
            new Dictionary<string, object?> { ["offered"] = Tls13, ["chosen"] = chosen, ["cipherSuite"] = upstream.CipherSuite }));
    }
}
