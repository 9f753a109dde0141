using System.Text.Json;
using Json.Schema;
using SmtpLens.TlsRpt;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.TlsRpt;

/// <summary>
/// RFC 8460 reports built from transcripts written by the real JSON Lines writer and read back, checked against
/// the RFC's JSON schema (section 4.4) and its field rules (sections 4.3 and 5.3).
/// </summary>
public sealed class TlsRptReportTests : IDisposable
{
    /// <summary>
    /// RFC 8460 section 4.4's schema, written out as JSON Schema 2020-12: the required members, policy-type's three
    /// values, the result types of section 4.3, non-negative integer counts, date-times, IP addresses, and no members
    /// beyond those the RFC defines (so a misspelt "additional-info-uri" fails).
    /// </summary>
    private const string Rfc8460Schema = """
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "title": "JSON Schema for SMTP TLS Reporting (RFC 8460 section 4.4)",
          "type": "object",
          "required": ["organization-name", "date-range", "contact-info", "report-id", "policies"],
          "additionalProperties": false,
          "properties": {
            "organization-name": { "type": "string", "minLength": 1 },
            "date-range": {
              "type": "object",
              "required": ["start-datetime", "end-datetime"],
              "additionalProperties": false,
              "properties": {
                "start-datetime": { "type": "string", "format": "date-time" },
                "end-datetime": { "type": "string", "format": "date-time" }
              }
            },
            "contact-info": { "type": "string", "minLength": 1 },
            "report-id": { "type": "string", "minLength": 1 },
            "policies": {
              "type": "array",
              "items": {
                "type": "object",
                "required": ["policy", "summary"],
                "additionalProperties": false,
                "properties": {
                  "policy": {
                    "type": "object",
                    "required": ["policy-type", "policy-domain"],
                    "additionalProperties": false,
                    "properties": {
                      "policy-type": { "type": "string", "enum": ["tlsa", "sts", "no-policy-found"] },
                      "policy-string": { "type": "array", "items": { "type": "string" } },
                      "policy-domain": { "type": "string", "format": "hostname" },
                      "mx-host": { "type": "array", "items": { "type": "string" } }
                    }
                  },
                  "summary": {
                    "type": "object",
                    "required": ["total-successful-session-count", "total-failure-session-count"],
                    "additionalProperties": false,
                    "properties": {
                      "total-successful-session-count": { "type": "integer", "minimum": 0 },
                      "total-failure-session-count": { "type": "integer", "minimum": 0 }
                    }
                  },
                  "failure-details": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["result-type", "failed-session-count"],
                      "additionalProperties": false,
                      "properties": {
                        "result-type": {
                          "type": "string",
                          "enum": ["starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
                                   "certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
                                   "dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"]
                        },
                        "sending-mta-ip": { "type": "string", "anyOf": [{ "format": "ipv4" }, { "format": "ipv6" }] },
                        "receiving-mx-hostname": { "type": "string", "format": "hostname" },
                        "receiving-mx-helo": { "type": "string" },
                        "receiving-ip": { "type": "string", "anyOf": [{ "format": "ipv4" }, { "format": "ipv6" }] },
                        "failed-session-count": { "type": "integer", "minimum": 0 },
                        "additional-information": { "type": "string", "format": "uri" },
                        "failure-reason-code": { "type": "string" }
                      }
                    }
                  }
                }
              }
            }
          }
        }
        """;

    private const string Domain = "example.test";
    private static readonly DateTimeOffset Day = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);
    private static readonly JsonSchema Schema = JsonSchema.FromText(Rfc8460Schema);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smtplens-tlsrpt-");
    private int _sessions;

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Report_OfMixedSessions_ValidatesAgainstTheRfcSchema_WithCountsPerPolicy()
    {
        List<TlsRptSession> sessions =
        [
            Read(Session(Day.AddHours(1), dane: ("pass", "TLSA 3 1 1 matched the leaf key"), tls: Tls())),
            Read(Session(Day.AddHours(2), dane: ("pass", "TLSA 3 1 1 matched the leaf key"), tls: Tls())),
            Read(Session(Day.AddHours(3), dane: ("fail", "no TLSA record matched the chain"), tls: Tls())),
            Read(Session(Day.AddHours(4), sts: ("fail", "certificate expired on 2026-10-01"), tls: Tls(notAfter: Day.AddDays(-60)), mx: "mx2.example.test")),
            Read(Session(Day.AddHours(5), tls: null, capabilities: ["PIPELINING", "8BITMIME"])),
            Read(Session(Day.AddHours(6), tls: Tls())),
        ];

        var json = Report(sessions).ToJson();
        AssertValid(json);

        using var doc = JsonDocument.Parse(json);
        var policies = doc.RootElement.GetProperty("policies").EnumerateArray().ToDictionary(p => p.GetProperty("policy").GetProperty("policy-type").GetString()!);
        Assert.Equal(["no-policy-found", "sts", "tlsa"], policies.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((2, 1), Counts(policies["tlsa"]));
        Assert.Equal((0, 1), Counts(policies["sts"]));
        Assert.Equal((1, 1), Counts(policies["no-policy-found"]));
        Assert.Equal("tlsa-invalid", Failure(policies["tlsa"]).GetProperty("result-type").GetString());
        Assert.Equal("certificate-expired", Failure(policies["sts"]).GetProperty("result-type").GetString());
        Assert.Equal("mx2.example.test", Failure(policies["sts"]).GetProperty("receiving-mx-hostname").GetString());
        Assert.Equal("192.0.2.10", Failure(policies["sts"]).GetProperty("sending-mta-ip").GetString());
        Assert.Equal("198.51.100.25", Failure(policies["sts"]).GetProperty("receiving-ip").GetString());
        Assert.Equal("certificate expired on 2026-10-01", Failure(policies["sts"]).GetProperty("failure-reason-code").GetString());
        Assert.Equal("starttls-not-supported", Failure(policies["no-policy-found"]).GetProperty("result-type").GetString());
        Assert.All(policies.Values, p => Assert.Equal(Domain, p.GetProperty("policy").GetProperty("policy-domain").GetString()));
        Assert.Equal(["mx.example.test"], policies["tlsa"].GetProperty("policy").GetProperty("mx-host").EnumerateArray().Select(h => h.GetString()));
    }

    [Fact]
    public void Report_CoversOneUtcDay_NamedAsRfc8460Says()
    {
        var report = Report(
        [
            Read(Session(Day.AddHours(23).AddMinutes(59), dane: ("pass", "ok"), tls: Tls())),
            Read(Session(Day.AddDays(1), dane: ("pass", "ok"), tls: Tls())),
            Read(Session(Day.AddSeconds(-1), dane: ("fail", "no match"), tls: Tls())),
        ]);

        using var doc = JsonDocument.Parse(report.ToJson());
        var range = doc.RootElement.GetProperty("date-range");
        Assert.Equal("2026-12-06T00:00:00Z", range.GetProperty("start-datetime").GetString());
        Assert.Equal("2026-12-06T23:59:59Z", range.GetProperty("end-datetime").GetString());
        Assert.Single(report.Sessions);
        Assert.Equal(2, report.SessionsOutsideDay);
        Assert.Equal((1, 0), Counts(doc.RootElement.GetProperty("policies")[0]));

        // sender!policy-domain!begin!end.json, the times in seconds since the epoch.
        Assert.Equal("reporter.test!example.test!1796515200!1796601599.json", report.FileName);
    }

    [Fact]
    public void FailureDetails_UseTheRfcKeyAdditionalInformation_NotTheProseName()
    {
        var report = TlsRptReport.Build(
            [Read(Session(Day.AddHours(1), dane: ("fail", "no match"), tls: Tls()))],
            Options() with { AdditionalInformation = "https://reports.reporter.test/tls/1" });

        var json = report.ToJson();
        AssertValid(json);
        using var doc = JsonDocument.Parse(json);
        var failure = Failure(doc.RootElement.GetProperty("policies")[0]);
        Assert.Equal("https://reports.reporter.test/tls/1", failure.GetProperty("additional-information").GetString());
        Assert.False(failure.TryGetProperty("additional-info-uri", out _));
    }

    [Fact]
    public void Schema_RejectsWhatTheRfcForbids()
    {
        // The checks are only worth something if they can fail: each mutation of a valid report must be refused.
        var valid = Report([Read(Session(Day.AddHours(1), dane: ("fail", "no match"), tls: Tls()))]).ToJson();
        AssertValid(valid);
        var text = System.Text.Encoding.UTF8.GetString(valid);

        Assert.False(Evaluate(text.Replace("\"tlsa\"", "\"dane\"", StringComparison.Ordinal)).IsValid);
        Assert.False(Evaluate(text.Replace("\"tlsa-invalid\"", "\"tlsa-mismatch\"", StringComparison.Ordinal)).IsValid);
        Assert.False(Evaluate(text.Replace("\"failure-reason-code\"", "\"additional-info-uri\"", StringComparison.Ordinal)).IsValid);
        Assert.False(Evaluate(text.Replace("\"contact-info\"", "\"contact\"", StringComparison.Ordinal)).IsValid);
        Assert.False(Evaluate(text.Replace("\"192.0.2.10\"", "\"not-an-ip\"", StringComparison.Ordinal)).IsValid);
        Assert.False(Evaluate(text.Replace("2026-12-06T00:00:00Z", "yesterday", StringComparison.Ordinal)).IsValid);
    }

    [Theory]
    [InlineData("fail", "Server certificate not verified: certificate has expired", true, false, true, "certificate-expired")]
    [InlineData("fail", "Server certificate not trusted", false, false, true, "certificate-not-trusted")]
    [InlineData("fail", "Server certificate not verified", false, true, false, "certificate-host-mismatch")]
    [InlineData("fail", "policy fetch failed", false, true, true, "sts-policy-invalid")]
    [InlineData("fail", "handshake failed", false, true, true, "validation-failure")]
    public void StsFailure_ResultType_FollowsTheHandshakeAndTheReason(string verdict, string reason, bool expired, bool trusted, bool nameMatches, string expected)
    {
        var session = Read(Session(Day.AddHours(1), sts: (verdict, reason), tls: Tls(notAfter: expired ? Day.AddDays(-1) : Day.AddDays(90), trusted: trusted, nameMatches: nameMatches)));

        Assert.False(session.Success);
        Assert.Equal("sts", session.PolicyType);
        Assert.Equal(expected, session.ResultType);
    }

    [Fact]
    public void Verdict_ResultType_WinsOverInference()
    {
        var session = Read(Session(Day.AddHours(1), dane: ("fail", "no usable TLSA"), tls: Tls(), extra: new() { ["resultType"] = "dane-required" }));

        Assert.Equal("dane-required", session.ResultType);
    }

    [Fact]
    public void Dane_TakesPrecedenceOverMtaSts()
    {
        var session = Read(Session(Day.AddHours(1), dane: ("fail", "no TLSA record matched"), sts: ("pass", "mx matched, certificate valid"), tls: Tls()));

        Assert.Equal("tlsa", session.PolicyType);
        Assert.False(session.Success);
    }

    [Fact]
    public void Sessions_WithoutVerdicts_OrForAnotherDomain_AreNotCounted()
    {
        Assert.Null(TlsRptSession.FromEvents(Events(Session(Day, tls: Tls(), withVerdicts: false)), Domain));
        Assert.Null(TlsRptSession.FromEvents(Events(Session(Day, dane: ("pass", "ok"), tls: Tls(), extra: new() { ["domain"] = "other.test" })), Domain));
        Assert.NotNull(TlsRptSession.FromEvents(Events(Session(Day, dane: ("pass", "ok"), tls: Tls(), extra: new() { ["domain"] = "EXAMPLE.test." })), Domain));
    }

    private static TlsRptOptions Options() => new(Domain, DateOnly.FromDateTime(Day.UtcDateTime), "SmtpLens Tests", "tlsrpt@reporter.test", "reporter.test");

    private static TlsRptReport Report(IEnumerable<TlsRptSession> sessions) => TlsRptReport.Build(sessions, Options());

    private static (long Successes, long Failures) Counts(JsonElement policy)
    {
        var summary = policy.GetProperty("summary");
        return (summary.GetProperty("total-successful-session-count").GetInt64(), summary.GetProperty("total-failure-session-count").GetInt64());
    }

    private static JsonElement Failure(JsonElement policy) => Assert.Single(policy.GetProperty("failure-details").EnumerateArray().ToList());

    private static EvaluationResults Evaluate(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
    }

    private static void AssertValid(byte[] json)
    {
        var text = System.Text.Encoding.UTF8.GetString(json);
        var result = Evaluate(text);
        Assert.True(result.IsValid, text + "\n" + string.Join("\n", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }

    private static TlsRptSession Read(string path) => TlsRptSession.FromEvents(Events(path), Domain) ?? throw new InvalidOperationException("no verdicts in " + path);

    private static List<TranscriptEvent> Events(string path) => [.. JsonLinesTranscriptReader.Read(path)];

    private static Dictionary<string, object?> Tls(DateTimeOffset? notAfter = null, bool trusted = true, bool nameMatches = true) => new()
    {
        ["leg"] = "passthrough",
        ["completed"] = true,
        ["version"] = "TLSv1.2",
        ["clientHello"] = new Dictionary<string, object?> { ["sni"] = "mx.example.test" },
        ["serverCertificates"] = new List<object?>
        {
            new Dictionary<string, object?>
            {
                ["subject"] = "CN=mx.example.test",
                ["notBefore"] = Day.AddDays(-200).ToString("o", System.Globalization.CultureInfo.InvariantCulture),
                ["notAfter"] = (notAfter ?? Day.AddDays(90)).ToString("o", System.Globalization.CultureInfo.InvariantCulture),
            },
        },
        ["chainTrusted"] = trusted,
        ["nameMatches"] = nameMatches,
    };

    /// <summary>One session through the real <see cref="JsonLinesTranscriptFormat"/>; returns its file.</summary>
    private string Session(
        DateTimeOffset start,
        (string Verdict, string Reason)? dane = null,
        (string Verdict, string Reason)? sts = null,
        Dictionary<string, object?>? tls = null,
        string[]? capabilities = null,
        string? mx = null,
        bool withVerdicts = true,
        Dictionary<string, object?>? extra = null)
    {
        var id = $"{start:yyyyMMdd'T'HHmmssfff}Z-{++_sessions:D6}-t1s0";
        var path = Path.Combine(_dir.FullName, id + ".jsonl");
        var seq = 0;
        var events = new List<(Direction, string, string, IReadOnlyDictionary<string, object?>?)>
        {
            (Direction.Proxy, EventKinds.Connect, "client 192.0.2.10:50000 connected", new Dictionary<string, object?> { ["client"] = "192.0.2.10:50000" }),
            (Direction.Server, EventKinds.Reply, "220 mx.example.test ESMTP", null),
        };
        if (tls is not null)
        {
            events.Add((Direction.Proxy, EventKinds.StartTls, "STARTTLS accepted", null));
            events.Add((Direction.Proxy, EventKinds.TlsHandshake, "passthrough leg: TLSv1.2", tls));
        }

        if (withVerdicts)
        {
            events.Add(Verdict("postfix:may", ("pass", "TLS is optional at may"), mx, extra));
            events.Add(Verdict("dane", dane ?? ("not-applicable", "no TLSA records"), mx, extra));
            events.Add(Verdict("mta-sts", sts ?? ("not-applicable", "no _mta-sts TXT record"), mx, extra));
        }

        events.Add((Direction.Proxy, EventKinds.Summary, "session summary", new Dictionary<string, object?>
        {
            ["client"] = "192.0.2.10:50000",
            ["upstream"] = "198.51.100.25:25",
            ["capabilities"] = capabilities ?? ["PIPELINING", "STARTTLS", "8BITMIME"],
        }));

        using (var format = new JsonLinesTranscriptFormat(path, "tests"))
        {
            foreach (var (direction, kind, text, data) in events)
            {
                format.Write(new TranscriptEvent(id, ++seq, start.AddMilliseconds(seq), direction, kind, text, data));
            }
        }

        return path;
    }

    private static (Direction, string, string, IReadOnlyDictionary<string, object?>?) Verdict(string policy, (string Verdict, string Reason) verdict, string? mx, Dictionary<string, object?>? extra)
    {
        var data = new Dictionary<string, object?> { ["policy"] = policy, ["verdict"] = verdict.Verdict, ["reason"] = verdict.Reason };
        if (mx is not null)
        {
            data["mxHost"] = mx;
        }

        foreach (var (key, value) in extra ?? [])
        {
            data[key] = value;
        }

        return (Direction.Proxy, TlsRptSession.PolicyEventKind, $"{policy}: {verdict.Verdict} ({verdict.Reason})", data);
    }
}
