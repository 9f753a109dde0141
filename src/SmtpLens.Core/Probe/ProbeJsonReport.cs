using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.Net.Resolver;
using SmtpLens.Protocol;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe;

/// <summary><c>smtplens probe --json</c>: the parsed results plus each connection's transcript events, which is
/// what <c>smtplens diff</c> reads back.</summary>
internal static class ProbeJsonReport
{
    /// <summary>2 added per-address hosts (<c>address</c>, <c>label</c>), <c>policies</c>, <c>starttlsEnforced</c>,
    /// <c>mx.addresses</c> and <c>comparison</c>; every version-1 field is unchanged, so version-1 readers still work.</summary>
    public const int FormatVersion = 2;
    private static readonly JsonSerializerOptions DataOptions = new() { Encoder = JsonLinesTranscriptFormat.Encoder };

    public static void Write(Utf8JsonWriter json, MxLookup? lookup, IReadOnlyList<HostProbe> hosts, string instance) =>
        Write(json, new ProbeRun(lookup, [], hosts, null), instance);

    public static void Write(Utf8JsonWriter json, ProbeRun run, string instance)
    {
        var lookup = run.Lookup;
        var hosts = run.Hosts;
        json.WriteStartObject();
        json.WriteNumber("smtplensProbe", FormatVersion);
        if (lookup is not null)
        {
            json.WriteStartObject("mx");
            json.WriteString("domain", lookup.Domain);
            json.WriteString("server", lookup.Server.ToString());
            json.WriteBoolean("implicit", lookup.Implicit);
            json.WriteStartArray("records");
            foreach (var mx in lookup.Hosts)
            {
                json.WriteStartObject();
                json.WriteNumber("preference", mx.Preference);
                json.WriteString("exchange", mx.Exchange);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNumber("maxAddresses", run.MaxAddresses);
            json.WriteStartArray("addresses");
            foreach (var resolved in run.Resolved)
            {
                json.WriteStartObject();
                json.WriteString("host", resolved.Host);
                json.WriteStartArray("addresses");
                foreach (var address in resolved.Addresses)
                {
                    json.WriteStringValue(address.ToString());
                }

                json.WriteEndArray();
                json.WriteNumber("notProbed", Math.Max(0, resolved.Addresses.Count - run.MaxAddresses));
                json.WriteString("problem", resolved.Problem);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteStartArray("hosts");
        foreach (var host in hosts)
        {
            WriteHost(json, host, instance, run.ImplicitTls);
        }

        json.WriteEndArray();
        Comparison(json, run.Comparison);
        var counted = run.Counted;
        json.WriteStartObject("findingCounts");
        foreach (var severity in new[] { FindingSeverity.Error, FindingSeverity.Warning, FindingSeverity.Info })
        {
            json.WriteNumber(Finding.SeverityName(severity), counted.Count(f => f.Severity == severity));
        }

        json.WriteEndObject();
        json.WriteNumber("exitCode", run.ExitCode);
        json.WriteEndObject();
    }

    private static void WriteHost(Utf8JsonWriter json, HostProbe host, string instance, bool implicitTls)
    {
        var main = host.Main;
        json.WriteStartObject();
        json.WriteString("target", host.Target.ToString());
        json.WriteString("mx", host.MxName);
        json.WriteString("address", host.Address?.ToString());
        json.WriteString("label", host.Label);
        WriteSessionFields(json, main);
        Reply(json, "banner", main.Banner);
        Hello(json, "ehlo", main.HelloReply, main.EhloBeforeTls);
        json.WriteStartObject("starttls");
        json.WriteBoolean("offered", main.StartTlsOffered);
        json.WriteBoolean("attempted", main.StartTlsAttempted);
        Reply(json, "reply", main.StartTlsReply);
        json.WriteEndObject();
        Data(json, "tls", main.Tls?.ToData());
        Hello(json, "ehloInTls", main.HelloReplyInTls, main.EhloInTls);
        var changes = main.KeywordChanges;
        json.WriteStartObject("keywordChanges");
        Keywords(json, "onlyBeforeTls", changes.OnlyBefore);
        Keywords(json, "onlyInTls", changes.OnlyInTls);
        Keywords(json, "hiddenFromPlaintext", changes.HiddenFromPlaintext);
        json.WriteStartArray("parametersChanged");
        foreach (var (before, inTls) in changes.ParametersChanged)
        {
            json.WriteStartObject();
            json.WriteString("keyword", before.Keyword);
            json.WriteString("beforeTls", before.Parameters);
            json.WriteString("inTls", inTls.Parameters);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        if (main.TlsRequirementCheck is { } vrfy)
        {
            json.WriteStartObject("tlsRequirementCheck");
            json.WriteString("command", "VRFY postmaster");
            Reply(json, "reply", vrfy);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNull("tlsRequirementCheck");
        }

        var enforcement = StartTlsEnforcement.Of(main, implicitTls || (main.Tls is not null && !main.StartTlsAttempted));
        json.WriteStartObject("starttlsEnforced");
        json.WriteString("value", enforcement.Value);
        json.WriteString("detail", enforcement.Detail);
        json.WriteEndObject();
        Reply(json, "quit", main.QuitReply);
        Findings(json, main.Findings);
        json.WriteStartArray("policies");
        foreach (var verdict in host.Verdicts)
        {
            JsonSerializer.Serialize(json, verdict.ToData(), DataOptions);
        }

        json.WriteEndArray();
        json.WriteStartArray("offers");
        foreach (var offer in host.Offers)
        {
            json.WriteStartObject();
            json.WriteString("label", offer.Offer!.Label);
            json.WriteString("outcome", offer.Tls?.Completed == true ? "accepted" : offer.Tls is not null ? "refused" : "not tested");
            json.WriteString("detail", ProbeTextReport.OfferOutcome(offer));
            WriteSessionFields(json, offer);
            Data(json, "tls", offer.Tls?.ToData());
            Findings(json, offer.Findings);
            Events(json, offer, instance);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        Events(json, main, instance);
        json.WriteEndObject();
    }

    private static void Comparison(Utf8JsonWriter json, MxComparison? comparison)
    {
        if (comparison is null)
        {
            json.WriteNull("comparison");
            return;
        }

        json.WriteStartObject("comparison");
        json.WriteString("domain", comparison.Domain);
        json.WriteNumber("answered", comparison.Answered);
        json.WriteNumber("hosts", comparison.Hosts);
        json.WriteStartArray("aspects");
        foreach (var aspect in comparison.Aspects)
        {
            json.WriteStartObject();
            json.WriteString("aspect", aspect.Name);
            json.WriteBoolean("differs", aspect.Differs);
            json.WriteBoolean("decisive", aspect.Decisive);
            json.WriteBoolean("withinHost", aspect.WithinHost);
            json.WriteStartArray("values");
            foreach (var group in aspect.Groups)
            {
                json.WriteStartObject();
                json.WriteString("value", group.Value);
                json.WriteStartArray("addresses");
                foreach (var address in group.Addresses)
                {
                    json.WriteStringValue(address);
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("notReached");
        foreach (var missing in comparison.NotReached)
        {
            json.WriteStringValue(missing);
        }

        json.WriteEndArray();
        Findings(json, comparison.Finding is { } f ? [f] : []);
        json.WriteEndObject();
    }

    private static void WriteSessionFields(Utf8JsonWriter json, ProbeSession session)
    {
        json.WriteString("session", session.SessionId);
        json.WriteString("remote", session.RemoteEndPoint);
        json.WriteString("local", session.LocalEndPoint);
        json.WriteString("end", session.End.ToString());
        json.WriteString("error", session.Error);
        json.WriteString("note", session.Note);
    }

    private static void Findings(Utf8JsonWriter json, IReadOnlyList<Finding> findings)
    {
        json.WriteStartArray("findings");
        foreach (var f in findings)
        {
            var data = new Dictionary<string, object?>(f.ToData()) { ["session"] = f.Session };
            JsonSerializer.Serialize(json, data, DataOptions);
        }

        json.WriteEndArray();
    }

    private static void Events(Utf8JsonWriter json, ProbeSession session, string instance)
    {
        json.WriteStartArray("events");
        foreach (var e in session.Events)
        {
            JsonLinesTranscriptFormat.WriteObject(json, e, instance);
        }

        json.WriteEndArray();
    }

    private static void Reply(Utf8JsonWriter json, string name, SmtpReply? reply)
    {
        if (reply is null)
        {
            json.WriteNull(name);
            return;
        }

        json.WriteStartArray(name);
        foreach (var line in reply.RawLines)
        {
            json.WriteStringValue(line);
        }

        json.WriteEndArray();
    }

    private static void Hello(Utf8JsonWriter json, string name, SmtpReply? reply, EhloReply? ehlo)
    {
        if (reply is null)
        {
            json.WriteNull(name);
            return;
        }

        json.WriteStartObject(name);
        json.WriteNumber("code", reply.Code);
        Reply(json, "reply", reply);
        json.WriteString("domain", ehlo?.Domain);
        Keywords(json, "keywords", ehlo?.Keywords ?? []);
        json.WriteEndObject();
    }

    private static void Keywords(Utf8JsonWriter json, string name, IReadOnlyList<EhloKeyword> keywords)
    {
        json.WriteStartArray(name);
        foreach (var k in keywords)
        {
            json.WriteStartObject();
            json.WriteString("keyword", k.Keyword);
            json.WriteString("params", k.Parameters);
            json.WriteString("raw", k.RawLine);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void Data(Utf8JsonWriter json, string name, IReadOnlyDictionary<string, object?>? data)
    {
        json.WritePropertyName(name);
        if (data is null)
        {
            json.WriteNullValue();
            return;
        }

        JsonSerializer.Serialize(json, data, DataOptions);
    }
}
