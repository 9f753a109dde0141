using System.Globalization;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Policy;

/// <summary>One tls-policy verdict as the transcript records it: data {policy, verdict, reason}.</summary>
internal sealed record PolicyVerdict(string Policy, string Verdict, string Reason);

/// <summary>One recorded session: who connected, when, and every policy verdict SmtpLens gave it.</summary>
internal sealed record VerdictSession(string SessionId, DateTimeOffset Start, string? ClientIp, IReadOnlyList<PolicyVerdict> Verdicts)
{
    public PolicyVerdict? For(string policy) => Verdicts.FirstOrDefault(v => v.Policy == policy);
}

/// <summary>
/// The one place that knows how to start SmtpLens with policy verdicts on and how to read them back, so the
/// comparison tests follow the proxy's options and the transcript contract in a single spot:
/// <c>--next-hop NAME --policy-ca-file FILE --dns-resolver IP[:PORT] --policy-lookups</c>, and per session one
/// <c>"kind":"tls-policy"</c> event per policy with <c>data</c> = {policy, verdict pass|fail|not-applicable, reason}.
/// </summary>
internal static class PolicyProxy
{
    public const string EventKind = EventKinds.TlsPolicy;
    private static Task<bool>? supported;

    /// <summary>
    /// Whether this build of smtplens has the policy options. Until they exist the proxy still runs (so the real
    /// peers' outcomes are recorded and printed) and the comparison fails with "no tls-policy event".
    /// </summary>
    public static Task<bool> PolicyOptionsSupportedAsync() => supported ??= ProbeSupportAsync();

    /// <summary>
    /// <c>smtplens proxy</c> arguments for one listener in passthrough mode (the sender must see the upstream's own
    /// certificate, as it would without SmtpLens), with policy verdicts for <paramref name="nextHop"/> and <paramref name="mxHost"/>.
    /// </summary>
    public static async Task<List<string>> ArgumentsAsync(string listen, string upstream, string transcripts, string nextHop, string mxHost, string caFile, string resolver)
    {
        List<string> args = ["proxy", "--listen", listen, "--upstream", upstream, "--transcripts", transcripts, "--tls", "passthrough", "--log-level", "Information"];
        if (await PolicyOptionsSupportedAsync())
        {
            // The upstream is an address here, so name the MX host the sender looked up, as Postfix matches it.
            args.AddRange(["--policy-lookups", "--next-hop", nextHop, "--mx-host", mxHost, "--policy-ca-file", caFile, "--dns-resolver", resolver]);
        }

        return args;
    }

    /// <summary>Every session under <paramref name="transcripts"/>, oldest first.</summary>
    public static IReadOnlyList<VerdictSession> ReadSessions(string transcripts)
    {
        var sessions = new List<VerdictSession>();
        if (!Directory.Exists(transcripts))
        {
            return sessions;
        }

        foreach (var path in Directory.GetFiles(transcripts, "*.jsonl"))
        {
            foreach (var session in JsonLinesTranscriptReader.Read(path).GroupBy(e => e.Session, StringComparer.Ordinal))
            {
                var events = session.OrderBy(e => e.Seq).ToList();
                var connect = events.FirstOrDefault(e => e.Kind == EventKinds.Connect);
                var verdicts = events
                    .Where(e => e.Kind == EventKind && e.Data is not null)
                    .Select(e => new PolicyVerdict(
                        EventFields.Text(e.Data, "policy") ?? "",
                        EventFields.Text(e.Data, "verdict") ?? "",
                        EventFields.Text(e.Data, "reason") ?? ""))
                    .ToList();
                sessions.Add(new VerdictSession(session.Key, events[0].Timestamp, Address(EventFields.Text(connect?.Data, "client")), verdicts));
            }
        }

        return [.. sessions.OrderBy(s => s.Start).ThenBy(s => s.SessionId, StringComparer.Ordinal)];
    }

    private static string? Address(string? endpoint) =>
        endpoint is not null && System.Net.IPEndPoint.TryParse(endpoint, out var parsed) ? parsed.Address.ToString() : null;

    private static async Task<bool> ProbeSupportAsync()
    {
        var (_, stdout, stderr) = await SmtplensProcess.RunAsync("proxy", "--help");
        return (stdout + stderr).Contains("--next-hop", StringComparison.Ordinal)
            && (stdout + stderr).Contains("--policy-lookups", StringComparison.Ordinal);
    }

    public static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
