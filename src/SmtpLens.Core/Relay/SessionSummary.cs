using System.Globalization;
using SmtpLens.Findings;
using SmtpLens.StateMachine;

namespace SmtpLens.Relay;

/// <summary>The end-of-session facts an admin asks first: who, what was offered, what was sent, how it ended.</summary>
internal sealed record SessionSummary(
    string SessionId,
    string Listener,
    string Client,
    string Upstream,
    string? EhloName,
    string? Banner,
    IReadOnlyList<string> UpstreamCapabilities,
    IReadOnlyList<Transaction> Transactions,
    long BytesFromClient,
    long BytesFromUpstream,
    TimeSpan Duration,
    SessionEndReason Reason,
    string EndDetail)
{
    /// <summary>One record per TLS leg seen in the session (client, upstream, or passthrough).</summary>
    public IReadOnlyList<SmtpLens.Tls.TlsLegRecord> TlsLegs { get; init; } = [];

    /// <summary>Every finding the session raised, end-of-session ones included.</summary>
    public IReadOnlyList<Finding> Findings { get; init; } = [];

    /// <summary>What each sending TLS policy would have decided (the session's tls-policy events).</summary>
    public IReadOnlyList<SmtpLens.Policy.PolicyVerdict> Policies { get; init; } = [];

    /// <summary>The TCP peer as seen (differs from <see cref="Client"/> behind a PROXY-protocol balancer).</summary>
    public string? ClientSeen { get; init; }

    public string Route { get; init; } = "static";

    /// <summary>With <c>--connectors</c>: the inbound connector that would select this sender, and why.</summary>
    public string? Connector { get; init; }

    /// <summary>With <c>--check-revocation</c>: one line per certificate checked so far (later results follow the summary).</summary>
    public IReadOnlyList<string> Revocation { get; init; } = [];

    /// <summary>Where the client was headed, for transparent routes.</summary>
    public string? OriginalDestination { get; init; }

    /// <summary>The source address of the upstream connection.</summary>
    public string? UpstreamSource { get; init; }

    private string RouteLine() =>
        $"route {Route}: client {Client}{(ClientSeen is not null && ClientSeen != Client ? $" (seen as {ClientSeen})" : string.Empty)}, original destination {OriginalDestination ?? "(not used)"}, upstream source {UpstreamSource ?? "(none)"}";

    public IReadOnlyList<string> ToLines()
    {
        var lines = new List<string>
        {
            $"client {Client} -> upstream {Upstream} (listener {Listener})",
            RouteLine(),
            $"banner: {Banner ?? "(none)"}",
            $"EHLO/HELO name: {EhloName ?? "(none)"}",
            $"upstream capabilities: {(UpstreamCapabilities.Count == 0 ? "(none seen)" : string.Join(", ", UpstreamCapabilities))}",
        };
        lines.AddRange(TlsLegs.Select(l => "TLS " + l.Summary() + (l.ServerCertificates.Count > 0 ? $"; certificate CN={l.ServerCertificates[0].CommonName} SAN=[{string.Join(", ", l.ServerCertificates[0].SubjectAltNames)}]" : string.Empty) + (l.Alerts.Count > 0 ? $"; alerts: {string.Join(", ", l.Alerts.Select(a => $"{a.Alert} by {(a.RaisedBy == SmtpLens.Tls.TlsSide.SmtpLens ? "SmtpLens" : "peer")}"))}" : string.Empty)));
        lines.AddRange(Revocation.Select(r => "revocation " + r));
        if (Connector is not null)
        {
            lines.Add(Connector);
        }

        lines.AddRange(Transactions.Select(t => t.Describe()));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"bytes client->upstream {BytesFromClient}, upstream->client {BytesFromUpstream}, duration {Duration.TotalSeconds:0.000} s"));
        lines.Add($"ended: {Reason} ({EndDetail})");
        lines.AddRange(Policies.Select(p => p.Line()));
        lines.Add(Findings.Count == 0 ? "findings: none" : $"findings: {Findings.Count}");
        lines.AddRange(Findings.Select(f => "  " + f.Headline));
        return lines;
    }

    public IReadOnlyDictionary<string, object?> ToData() => new Dictionary<string, object?>
    {
        ["listener"] = Listener,
        ["client"] = Client,
        ["upstream"] = Upstream,
        ["clientSeen"] = ClientSeen,
        ["route"] = Route,
        ["originalDestination"] = OriginalDestination,
        ["upstreamSource"] = UpstreamSource,
        ["banner"] = Banner,
        ["ehlo"] = EhloName,
        ["capabilities"] = UpstreamCapabilities,
        ["transactions"] = Transactions.Select(t => new Dictionary<string, object?>(10)
        {
            ["number"] = t.Number,
            ["mailFrom"] = t.MailFrom,
            ["recipients"] = t.RecipientsAccepted,
            ["recipientsRefused"] = t.RecipientsRejected,
            ["method"] = t.Method,
            ["size"] = t.Size,
            ["sha256"] = t.Sha256,
            ["finalReply"] = t.FinalReply?.RawLines[^1],
            ["accepted"] = t.Accepted,
            ["abandoned"] = t.Abandoned,
        }).ToList(),
        ["tls"] = TlsLegs.Select(l => l.ToData()).ToList(),
        ["bytesFromClient"] = BytesFromClient,
        ["bytesFromUpstream"] = BytesFromUpstream,
        ["durationMs"] = (long)Duration.TotalMilliseconds,
        ["end"] = Reason.ToString(),
        ["endDetail"] = EndDetail,
        ["connector"] = Connector,
        ["revocation"] = Revocation,
        ["findings"] = Findings.Select(f => new Dictionary<string, object?>
        {
            ["code"] = f.Code,
            ["severity"] = Finding.SeverityName(f.Severity),
            ["leg"] = Finding.LegName(f.Leg),
            ["title"] = f.Title,
        }).ToList(),
        ["policies"] = Policies.Select(p => new Dictionary<string, object?>
        {
            ["policy"] = p.Policy,
            ["verdict"] = p.VerdictName,
            ["reason"] = p.Reason,
            ["sender"] = p.Sender,
        }).ToList(),
        ["lines"] = ToLines(),
    };

    public string ToLogLine() => string.Create(
        CultureInfo.InvariantCulture,
        $"end {Reason}: {Client} -> {Upstream}, ehlo {EhloName ?? "-"}, {Transactions.Count} transaction(s) ({Transactions.Count(t => t.Accepted)} accepted), {BytesFromClient}/{BytesFromUpstream} bytes, {Duration.TotalSeconds:0.000} s; {EndDetail}{FindingsText()}");

    /// <summary>Codes with severity, worst first, so a grep of the log shows which sessions need a look.</summary>
    private string FindingsText() => Findings.Count == 0
        ? string.Empty
        : "; findings: " + string.Join(", ", Findings.OrderByDescending(f => f.Severity).Select(f => $"{Finding.SeverityName(f.Severity)} {f.Code}"));
}
