using System.Globalization;
using System.Text.Json;
using SmtpLens.Transcripts;

namespace SmtpLens.TlsRpt;

/// <summary>Who writes the report and for which day; RFC 8460 section 4.3's report metadata.</summary>
internal sealed record TlsRptOptions(
    string PolicyDomain,
    DateOnly Day,
    string OrganizationName,
    string ContactInfo,
    string SenderDomain,
    string? AdditionalInformation = null);

/// <summary>
/// An RFC 8460 aggregate report over recorded sessions: one entry in <c>policies</c> per policy the sessions met,
/// with success and failure counts and the failures grouped by result type and addresses.
/// </summary>
internal sealed class TlsRptReport
{
    /// <summary>The result types of RFC 8460 section 4.3 (negotiation, DANE and MTA-STS failures).</summary>
    public static readonly IReadOnlySet<string> ResultTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
        "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required",
        "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
    };

    private TlsRptReport(TlsRptOptions options, IReadOnlyList<TlsRptSession> sessions, int outsideDay)
    {
        Options = options;
        Sessions = sessions;
        SessionsOutsideDay = outsideDay;
    }

    public TlsRptOptions Options { get; }

    /// <summary>The sessions of <see cref="TlsRptOptions.Day"/> that the report counts.</summary>
    public IReadOnlyList<TlsRptSession> Sessions { get; }

    /// <summary>Sessions with verdicts that fall on another UTC day (a report covers one day).</summary>
    public int SessionsOutsideDay { get; }

    public DateTimeOffset Begin => new(Options.Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>The day's last second, as RFC 8460's own example writes it.</summary>
    public DateTimeOffset End => Begin.AddDays(1).AddSeconds(-1);

    /// <summary>RFC 8460 section 5.3: sender "!" policy-domain "!" begin "!" end ".json", in seconds since the epoch.</summary>
    public string FileName =>
        string.Create(CultureInfo.InvariantCulture, $"{Options.SenderDomain}!{Options.PolicyDomain}!{Begin.ToUnixTimeSeconds()}!{End.ToUnixTimeSeconds()}.json");

    public string ReportId =>
        string.Create(CultureInfo.InvariantCulture, $"{Begin:yyyy-MM-dd'T'HH:mm:ss'Z'}_{Options.PolicyDomain}@{Options.SenderDomain}");

    public static TlsRptReport Build(IEnumerable<TlsRptSession> sessions, TlsRptOptions options)
    {
        var all = sessions.ToList();
        var ofDay = all.Where(s => DateOnly.FromDateTime(s.Start.UtcDateTime) == options.Day).ToList();
        return new TlsRptReport(options, ofDay, all.Count - ofDay.Count);
    }

    /// <summary>The report as UTF-8 JSON, keys in the RFC's order.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JsonLinesTranscriptFormat.Encoder }))
        {
            json.WriteStartObject();
            json.WriteString("organization-name", Options.OrganizationName);
            json.WriteStartObject("date-range");
            json.WriteString("start-datetime", Timestamp(Begin));
            json.WriteString("end-datetime", Timestamp(End));
            json.WriteEndObject();
            json.WriteString("contact-info", Options.ContactInfo);
            json.WriteString("report-id", ReportId);
            json.WriteStartArray("policies");
            foreach (var policy in Sessions
                .GroupBy(s => (s.PolicyType, Strings: string.Join('\n', s.PolicyStrings)))
                .OrderBy(g => g.Key.PolicyType, StringComparer.Ordinal)
                .ThenBy(g => g.Key.Strings, StringComparer.Ordinal))
            {
                WritePolicy(json, policy.Key.PolicyType, policy.First().PolicyStrings, [.. policy]);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private void WritePolicy(Utf8JsonWriter json, string type, IReadOnlyList<string> strings, List<TlsRptSession> sessions)
    {
        json.WriteStartObject();
        json.WriteStartObject("policy");
        json.WriteString("policy-type", type);
        if (strings.Count > 0)
        {
            json.WriteStartArray("policy-string");
            foreach (var line in strings)
            {
                json.WriteStringValue(line);
            }

            json.WriteEndArray();
        }

        json.WriteString("policy-domain", Options.PolicyDomain);
        var hosts = sessions.Select(s => s.MxHost).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToList();
        if (hosts.Count > 0)
        {
            json.WriteStartArray("mx-host");
            foreach (var host in hosts)
            {
                json.WriteStringValue(host);
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
        json.WriteStartObject("summary");
        json.WriteNumber("total-successful-session-count", sessions.Count(s => s.Success));
        json.WriteNumber("total-failure-session-count", sessions.Count(s => !s.Success));
        json.WriteEndObject();

        var failures = sessions
            .Where(s => !s.Success)
            .GroupBy(s => (Type: s.ResultType ?? "validation-failure", s.SendingMtaIp, s.MxHost, s.ReceivingIp, s.FailureReason))
            .OrderBy(g => g.Key.Type, StringComparer.Ordinal)
            .ThenBy(g => g.Key.MxHost, StringComparer.Ordinal)
            .ThenBy(g => g.Key.SendingMtaIp, StringComparer.Ordinal)
            .ToList();
        if (failures.Count > 0)
        {
            json.WriteStartArray("failure-details");
            foreach (var failure in failures)
            {
                json.WriteStartObject();
                json.WriteString("result-type", failure.Key.Type);
                WriteOptional(json, "sending-mta-ip", failure.Key.SendingMtaIp);
                WriteOptional(json, "receiving-mx-hostname", failure.Key.MxHost);
                WriteOptional(json, "receiving-ip", failure.Key.ReceivingIp);
                json.WriteNumber("failed-session-count", failure.Count());

                // RFC 8460's prose calls this "additional-info-uri"; its schema and examples use this key.
                WriteOptional(json, "additional-information", Options.AdditionalInformation);
                WriteOptional(json, "failure-reason-code", failure.Key.FailureReason);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            json.WriteString(name, value);
        }
    }

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
