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

    /// <summary>Alerts SmtpLens sends when it refuses a renegotiation (TlsInterceptor), after which it ends the session.</summary>
    private static readonly HashSet<string> RenegotiationRefusals = new(StringComparer.Ordinal) { "no_renegotiation", "unexpected_message", "handshake_failure" };

    private readonly List<TlsLegData> _completed = [];
    private bool _upstreamFailed;

    /// <summary>SmtpLens refused a renegotiation after the handshake: the leg and the alert it sent.</summary>
    private (string Leg, string Alert, TranscriptEvent Event)? _refusedRenegotiation;

    public void Observe(DialogueView view, TranscriptEvent e, List<Finding> found)
    {
        if (e.Kind == EventKinds.TlsAlert && EventFields.Text(e.Data, "raisedBy") == "smtplens"
            && EventFields.Text(e.Data, "description") is { } sent && RenegotiationRefusals.Contains(sent) && _completed.Count > 0)
        {
            _refusedRenegotiation ??= (EventFields.Text(e.Data, "leg") ?? "client", sent, e);
            return;
        }

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
        if (_refusedRenegotiation is { } refused)
        {
            // The peer did not close: SmtpLens refused its renegotiation with a fatal alert and ended the session.
            var renegotiated = legs.FirstOrDefault(l => l.LegName == refused.Leg) ?? legs[0];
            found.Add(FindingCatalog.TlsDroppedAfterHandshake.Create(
                refused.Leg == "upstream" ? FindingLeg.Upstream : FindingLeg.Client,
                $"TLS ({renegotiated.Version} {renegotiated.CipherSuite}) was negotiated, then the {refused.Leg} attempted a renegotiation, which SmtpLens refuses: it sent a fatal {refused.Alert} alert and ended the session ({end}) before any SMTP reply",
                [.. legs.Select(l => FindingEvidence.Of(l.Event)), FindingEvidence.Of(refused.Event), FindingEvidence.Of(view.Disconnect!)],
                new Dictionary<string, object?> { ["version"] = renegotiated.Version, ["cipherSuite"] = renegotiated.CipherSuite, ["end"] = end, ["commandsAfterTls"] = commandsAfterTls, ["endedBy"] = "smtplens", ["renegotiationRefused"] = refused.Leg },
                leadingCauses: [$"The {refused.Leg} asked to renegotiate TLS (a legacy stack's periodic renegotiation, or openssl s_client's R command). SmtpLens cannot carry a renegotiation through an intercepted session, so it refuses it and ends the session; without SmtpLens the session might have continued."],
                nextStep: "Check whether the sender renegotiates on its own (a renegotiation or rekey setting); to let such a sender through, use --tls passthrough for it."));
            return;
        }

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
