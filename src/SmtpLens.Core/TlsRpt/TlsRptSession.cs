using System.Globalization;
using System.Net;
using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.TlsRpt;

/// <summary>
/// One recorded session as RFC 8460 counts it: the published policy that governed it (<c>tlsa</c>, <c>sts</c> or
/// <c>no-policy-found</c>), whether it succeeded, and for a failure the result type and the addresses involved.
/// </summary>
internal sealed record TlsRptSession(
    string SessionId,
    DateTimeOffset Start,
    string PolicyType,
    IReadOnlyList<string> PolicyStrings,
    string? MxHost,
    string? SendingMtaIp,
    string? ReceivingIp,
    bool Success,
    string? ResultType,
    string? FailureReason)
{
    /// <summary>The transcript event kind the policy verdicts are recorded under.</summary>
    public const string PolicyEventKind = "tls-policy";

    /// <summary>
    /// Reads one session's events. Null when the session carries no <c>tls-policy</c> event (policy lookups were
    /// off), or when its verdicts name another domain than <paramref name="policyDomain"/>.
    /// </summary>
    public static TlsRptSession? FromEvents(IReadOnlyList<TranscriptEvent> events, string policyDomain)
    {
        var verdicts = events.Where(e => e.Kind == PolicyEventKind && e.Data is not null).ToList();
        if (verdicts.Count == 0 || events.Count == 0)
        {
            return null;
        }

        // A verdict that names its domain must name this one; verdicts without one belong to the proxy's --next-hop.
        if (verdicts.Any(v => EventFields.Text(v.Data, "domain") is { } domain && !SameName(domain, policyDomain)))
        {
            return null;
        }

        var summary = events.LastOrDefault(e => e.Kind == EventKinds.Summary)?.Data;
        var upstreamLeg = events
            .Select(TlsLegData.From)
            .LastOrDefault(l => l is not null && l.CertificateIsUpstreams);
        var tlsCompleted = upstreamLeg is { Completed: true };

        // DANE wins over MTA-STS where both exist (RFC 8461 section 2), so a session counts under one policy only.
        var dane = Applicable(verdicts, "dane");
        var sts = Applicable(verdicts, "mta-sts");
        var (type, verdict) = dane is not null ? ("tlsa", dane) : sts is not null ? ("sts", sts) : ("no-policy-found", null);
        var success = verdict is null ? tlsCompleted : EventFields.Text(verdict.Data, "verdict") == "pass";
        var reason = verdict is null
            ? (tlsCompleted ? null : upstreamLeg?.Data is { } d ? EventFields.Text(d, "failure") : "STARTTLS not used")
            : EventFields.Text(verdict.Data, "reason");

        return new TlsRptSession(
            events[0].Session,
            events[0].Timestamp,
            type,
            verdict is null ? [] : [.. EventFields.Texts(verdict.Data, "policyString")],
            MxHostOf(verdict, upstreamLeg),
            Address(EventFields.Text(summary, "client")),
            Address(EventFields.Text(summary, "upstream")),
            success,
            success ? null : ResultTypeOf(type, verdict, reason, events, upstreamLeg),
            success ? null : reason);
    }

    private static TranscriptEvent? Applicable(List<TranscriptEvent> verdicts, string policy) =>
        verdicts.LastOrDefault(v => EventFields.Text(v.Data, "policy") == policy && EventFields.Text(v.Data, "verdict") is "pass" or "fail");

    /// <summary>The MX host the verdict names, else the SNI the sender asked for (DANE's TLSA base domain).</summary>
    private static string? MxHostOf(TranscriptEvent? verdict, TlsLegData? leg) =>
        EventFields.Text(verdict?.Data, "mxHost")
        ?? EventFields.Text(verdict?.Data, "host")
        ?? (leg?.ClientHello is { } hello ? EventFields.Text(hello, "sni") : null);

    /// <summary>The address of "ip:port" or "[ip]:port"; null for anything else (a host name).</summary>
    internal static string? Address(string? endpoint)
    {
        if (endpoint is null)
        {
            return null;
        }

        if (IPEndPoint.TryParse(endpoint, out var parsed))
        {
            var address = parsed.Address.IsIPv4MappedToIPv6 ? parsed.Address.MapToIPv4() : parsed.Address;
            return address.ToString();
        }

        return null;
    }

    /// <summary>
    /// The RFC 8460 section 4.3 result type: the verdict's own <c>resultType</c> when it gives one, else what the
    /// recorded handshake and the verdict's reason show, in the order a sender would meet them.
    /// </summary>
    private static string ResultTypeOf(string policyType, TranscriptEvent? verdict, string? reason, IReadOnlyList<TranscriptEvent> events, TlsLegData? leg)
    {
        if (EventFields.Text(verdict?.Data, "resultType") is { } given && TlsRptReport.ResultTypes.Contains(given))
        {
            return given;
        }

        if (leg is null && !StartTlsAttempted(events))
        {
            return "starttls-not-supported";
        }

        var text = reason ?? string.Empty;
        if (Mentions(text, "dnssec", "bogus", "insecure"))
        {
            return "dnssec-invalid";
        }

        if (policyType == "tlsa")
        {
            return "tlsa-invalid";
        }

        if (policyType == "sts" && Mentions(text, "policy") && !Mentions(text, "certificate"))
        {
            return "sts-policy-invalid";
        }

        if (Expired(leg, events[0].Timestamp) || Mentions(text, "expired"))
        {
            return "certificate-expired";
        }

        if (Mentions(text, "not trusted", "untrusted", "unknown ca", "issuer"))
        {
            return "certificate-not-trusted";
        }

        if (Mentions(text, "mismatch", "name", "hostname") || leg?.Data is { } data && EventFields.Bool(data, "nameMatches") == false)
        {
            return "certificate-host-mismatch";
        }

        return leg?.Data is { } chain && EventFields.Bool(chain, "chainTrusted") == false ? "certificate-not-trusted" : "validation-failure";
    }

    private static bool StartTlsAttempted(IReadOnlyList<TranscriptEvent> events) =>
        events.Any(e => e.Kind is EventKinds.StartTls or EventKinds.TlsClientHello or EventKinds.TlsHandshake or EventKinds.TlsFailed);

    private static bool Expired(TlsLegData? leg, DateTimeOffset at)
    {
        var leaf = leg is null ? null : EventFields.Maps(leg.Data, "serverCertificates").FirstOrDefault();
        return EventFields.Text(leaf, "notAfter") is { } notAfter
            && DateTimeOffset.TryParse(notAfter, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var end)
            && end < at;
    }

    private static bool Mentions(string text, params string[] words) =>
        words.Any(w => text.Contains(w, StringComparison.OrdinalIgnoreCase));

    private static bool SameName(string a, string b) =>
        string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
}
