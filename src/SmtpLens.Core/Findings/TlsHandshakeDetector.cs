using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>TLS_HANDSHAKE_FAILED (per leg, with the alert and who raised it) and TLS_DROPPED_AFTER_HANDSHAKE
/// (handshake done, then the session closed or hung before any SMTP reply: seed 002's TLS 1.0/RC4 appliance).</summary>
internal sealed class TlsHandshakeDetector : IFindingDetector
{
    /// <summary>End reasons that mean a side went away or went silent, not that the proxy stopped.</summary>
    private static readonly HashSet<string> DropReasons = new(StringComparer.Ordinal)
    {
        "UpstreamClosed", "UpstreamClosedMidLine", "UpstreamError", "ClientClosed", "ClientClosedMidLine", "ClientError", "IdleTimeout", "SessionTimeLimit",
    };

    private readonly List<TlsLegData> _completed = [];
    private bool _upstreamFailed;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (TlsLegData.From(e) is not { } leg)
        {
            return;
        }

        if (leg.Completed)
        {
            _completed.Add(leg);
            return;
        }

        // The client leg's failure after an upstream failure only mirrors it (SmtpLens relays the alert).
        if (leg.LegName == "client" && _upstreamFailed)
        {
            return;
        }

        _upstreamFailed |= leg.LegName != "client";
        var failure = EventFields.Text(leg.Data, "failure") ?? e.Text;
        var alerts = EventFields.Maps(leg.Data, "alerts").ToList();
        var alert = alerts.LastOrDefault(a => EventFields.Text(a, "level") == "fatal") ?? alerts.LastOrDefault();
        found.Add(FindingCatalog.TlsHandshakeFailed.Create(
            leg.Leg,
            $"the {leg.LegName} leg handshake failed: {failure}",
            [FindingEvidence.Of(e)],
            new Dictionary<string, object?>
            {
                ["leg"] = leg.LegName,
                ["failure"] = failure,
                ["alert"] = EventFields.Text(alert, "description"),
                ["alertRaisedBy"] = EventFields.Text(alert, "raisedBy"),
            }));
    }

    public void Complete(DialogueView view, List<Finding> found)
    {
        // Passthrough cannot see SMTP inside TLS, so it cannot tell a drop from a quiet session.
        var legs = _completed.Where(l => l.LegName != "passthrough").ToList();
        if (legs.Count == 0 || view.RepliesSinceTls > 0 || view.EndReason is not { } end || !DropReasons.Contains(end))
        {
            return;
        }

        var commandsAfterTls = view.CommandsSinceTls;
        var byUpstream = end.StartsWith("Upstream", StringComparison.Ordinal) || (end is "IdleTimeout" or "SessionTimeLimit" && commandsAfterTls > 0);
        var shown = legs.FirstOrDefault(l => l.LegName == "upstream") ?? legs[0];
        var how = end switch
        {
            "IdleTimeout" or "SessionTimeLimit" => $"the session hung ({end}) with no SMTP reply",
            _ => $"the {(byUpstream ? "upstream" : "client")} closed the connection ({end}) before any SMTP reply",
        };
        found.Add(FindingCatalog.TlsDroppedAfterHandshake.Create(
            byUpstream ? FindingLeg.Upstream : FindingLeg.Client,
            $"TLS ({shown.Version} {shown.CipherSuite}) was negotiated, then {how}",
            [.. legs.Select(l => FindingEvidence.Of(l.Event)), FindingEvidence.Of(view.Disconnect!)],
            new Dictionary<string, object?> { ["version"] = shown.Version, ["cipherSuite"] = shown.CipherSuite, ["end"] = end, ["commandsAfterTls"] = commandsAfterTls }));
    }
}
