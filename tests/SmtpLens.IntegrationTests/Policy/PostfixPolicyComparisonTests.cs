using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using System.Text.RegularExpressions;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.IntegrationTests.RealPeers;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.Policy;

/// <summary>
/// Issue 17 section 3: Postfix's own smtp client, at each TLS security level, sends through SmtpLens (passthrough)
/// to upstreams that each present one condition, with DNS from a DNSSEC-signed zone and a validating resolver in a
/// private network namespace. What Postfix did (status=sent or status=deferred in its log) must equal SmtpLens's
/// verdict for that level (pass or fail) in every case; the table of results is printed either way.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class PostfixPolicyComparisonTests(ITestOutputHelper output)
{
    private const string Zone = "lens.test";
    private static readonly string[] Levels = ["may", "encrypt", "dane", "verify", "secure"];
    private static readonly TimeSpan OutcomeTimeout = TimeSpan.FromSeconds(120);

    // Ten Postfixes and eight SmtpLens processes start at once; a machine loaded by other test runs needs the margin.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Which upstream presents which certificate; "plain" offers no STARTTLS.</summary>
    private enum Upstream
    {
        Valid,
        Expired,
        Mismatch,
        Untrusted,
        Plain,
    }

    private enum Tlsa
    {
        None,
        Matching,
        NotMatching,
    }

    /// <summary>
    /// One recipient domain per condition, each with its own MX host (mx.LABEL.lens.test) in the signed zone.
    /// The TLSA cases sit on the valid or the untrusted server so that DANE and WebPKI disagree: a matching
    /// DANE-EE record for a certificate no CA vouches for, a non-matching record in front of a valid certificate,
    /// and no TLSA record (authenticated denial) in front of an untrusted one.
    /// </summary>
    private static readonly (string Label, string Condition, Upstream Upstream, Tlsa Tlsa)[] Conditions =
    [
        ("valid", "valid certificate", Upstream.Valid, Tlsa.None),
        ("expired", "expired certificate", Upstream.Expired, Tlsa.None),
        ("mismatch", "name mismatch", Upstream.Mismatch, Tlsa.None),
        ("untrusted", "untrusted CA", Upstream.Untrusted, Tlsa.None),
        ("nostarttls", "no STARTTLS", Upstream.Plain, Tlsa.None),
        ("tlsa-match", "TLSA matches (untrusted CA)", Upstream.Untrusted, Tlsa.Matching),
        ("tlsa-nomatch", "TLSA does not match (valid cert)", Upstream.Valid, Tlsa.NotMatching),
        ("no-tlsa", "no TLSA, signed zone (untrusted CA)", Upstream.Untrusted, Tlsa.None),
    ];

    [Fact]
    public async Task Postfix_Smtp_Client_At_Each_Level_Matches_SmtpLens_Verdicts()
    {
        var clock = Stopwatch.StartNew();
        var root = Path.Combine("/tmp", "smtplens-policy-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);

        // Postfix's users read the CA file and certificates here (keys stay 0600, read by smtpd as root).
        File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var peers = new List<IAsyncDisposable>();
        SignedZoneResolver? dns = null;
        try
        {
            using var pki = new PolicyPki(root);
            var certificates = new Dictionary<Upstream, ServerCertificate>
            {
                [Upstream.Valid] = pki.Valid("valid", NamesOf(Upstream.Valid)),
                [Upstream.Expired] = pki.Expired("expired", NamesOf(Upstream.Expired)),
                [Upstream.Mismatch] = pki.Valid("mismatch", "wrong-name.example", "mx.wrong-name.example"),
                [Upstream.Untrusted] = pki.Untrusted("untrusted", NamesOf(Upstream.Untrusted)),
            };

            dns = await SignedZoneResolver.StartAsync(Zone, ZoneRecords(certificates), root);
            output.WriteLine(dns.StartupReport);

            // Postfix's inet_interfaces must be an address an interface holds; 127.0.0.1/8 on lo is not enough.
            foreach (var address in Enum.GetValues<Upstream>().Select((_, i) => UpstreamAddress(i)).Concat(Levels.Select((_, i) => SenderAddress(i))))
            {
                await dns.RunAsync(Transparent.NetworkNamespaces.Ip, "addr", "add", address + "/32", "dev", "lo");
            }

            // The five receiving Postfixes (sinks), TLS 1.2 only so a passthrough SmtpLens sees their certificates.
            var upstreams = await StartAllAsync(peers, Enum.GetValues<Upstream>().Select(async (u, i) =>
            {
                var tls = certificates.GetValueOrDefault(u);
                var instance = await PostfixInstance.StartAsync(new PostfixOptions
                {
                    Name = "up-" + u.ToString().ToLowerInvariant(),
                    NetworkNamespace = dns.Namespace,
                    ListenAddress = UpstreamAddress(i),
                    TlsCertificateFile = tls?.CertificateFile,
                    TlsKeyFile = tls?.KeyFile,
                    StartTimeout = StartTimeout,
                    MainCf = new Dictionary<string, string> { ["smtpd_tls_protocols"] = "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3" },
                });
                return (Upstream: u, Instance: instance);
            }), u => u.Instance);
            output.WriteLine($"upstream Postfixes ready after {clock.Elapsed.TotalSeconds:0.0} s");
            var upstreamOf = upstreams.ToDictionary(u => u.Upstream, u => u.Instance);

            // One SmtpLens per MX host, listening where the MX's A record points, with that domain as its next hop.
            var proxies = new List<SmtplensProcess>();
            for (var i = 0; i < Conditions.Length; i++)
            {
                var (label, _, upstream, _) = Conditions[i];
                var target = upstreamOf[upstream];
                var args = await PolicyProxy.ArgumentsAsync($"{ListenAddress(i)}:25", $"{target.Host}:{target.Port}", Path.Combine(root, "tr", label), $"{label}.{Zone}", $"mx.{label}.{Zone}", pki.CaFile, $"{SignedZoneResolver.ResolverAddress}:53");
                var proxy = SmtplensProcess.Start(args, networkNamespace: dns.Namespace);
                proxies.Add(proxy);
                peers.Add(proxy);
            }

            foreach (var proxy in proxies)
            {
                await proxy.WaitForLogAsync(@"listener listener1 on ", StartTimeout);
            }

            output.WriteLine($"SmtpLens proxies ready after {clock.Elapsed.TotalSeconds:0.0} s");

            // One sending Postfix per level, each from its own address so SmtpLens's sessions say which level sent them.
            var senders = await StartAllAsync(peers, Levels.Select((level, i) => PostfixInstance.StartAsync(new PostfixOptions
            {
                Name = "send-" + level,
                NetworkNamespace = dns.Namespace,
                ListenAddress = SenderAddress(i),
                StartTimeout = StartTimeout,
                MainCf = SenderMainCf(level, SenderAddress(i), pki.CaFile),
            })), s => s);
            output.WriteLine($"peers ready after {clock.Elapsed.TotalSeconds:0.0} s (policy options in this smtplens: {await PolicyProxy.PolicyOptionsSupportedAsync()})");

            var recipients = Conditions.Select(c => $"probe@{c.Label}.{Zone}").ToList();
            var message = Encoding.ASCII.GetBytes("From: policy@sender.lens.test\r\nSubject: TLS policy comparison\r\n\r\nOne message per condition.\r\n");
            await Task.WhenAll(senders.Select(s => SendmailAsync(dns.Namespace, s, recipients, message)));

            var outcomes = new Dictionary<(string Level, string Label), PostfixOutcome>();
            for (var i = 0; i < Levels.Length; i++)
            {
                foreach (var (label, outcome) in await WaitForOutcomesAsync(senders[i]))
                {
                    outcomes[(Levels[i], label)] = outcome;
                }
            }

            // Verdicts are written after each session's relay ends (lookups never delay it): wait for them.
            var verdictsDue = Stopwatch.StartNew();
            while (verdictsDue.Elapsed < TimeSpan.FromSeconds(60) && !Conditions.All(c => Levels.Select((_, l) => l).All(l =>
                PolicyProxy.ReadSessions(Path.Combine(root, "tr", c.Label)).FirstOrDefault(s => s.ClientIp == SenderAddress(l))?.For("postfix:" + Levels[l]) is not null)))
            {
                await Task.Delay(250);
            }

            var rows = new List<Row>();
            for (var c = 0; c < Conditions.Length; c++)
            {
                var sessions = PolicyProxy.ReadSessions(Path.Combine(root, "tr", Conditions[c].Label));
                for (var l = 0; l < Levels.Length; l++)
                {
                    var session = sessions.FirstOrDefault(s => s.ClientIp == SenderAddress(l));
                    rows.Add(new Row(Levels[l], Conditions[c].Label, Conditions[c].Condition, outcomes[(Levels[l], Conditions[c].Label)], session, session?.For("postfix:" + Levels[l])));
                }
            }

            output.WriteLine(Table(rows));
            output.WriteLine($"whole comparison: {clock.Elapsed.TotalSeconds:0.0} s");

            // The harness itself: each condition is what it claims, as Postfix's own decisions show.
            Assert.Equal("sent", Outcome(rows, "may", "valid"));
            Assert.Equal("sent", Outcome(rows, "may", "expired"));
            Assert.Equal("deferred", Outcome(rows, "encrypt", "nostarttls"));
            Assert.Equal("sent", Outcome(rows, "verify", "valid"));
            Assert.Equal("deferred", Outcome(rows, "verify", "expired"));
            Assert.Equal("deferred", Outcome(rows, "verify", "untrusted"));
            Assert.Equal("deferred", Outcome(rows, "dane", "tlsa-nomatch"));
            Assert.Equal("sent", Outcome(rows, "dane", "tlsa-match"));
            Assert.All(rows, r => Assert.NotNull(r.Session));

            var missing = rows.Where(r => r.Verdict is null).ToList();
            Assert.True(missing.Count == 0, $"no tls-policy event for {missing.Count} of {rows.Count} cases (first: postfix:{missing.FirstOrDefault()?.Level} for {missing.FirstOrDefault()?.Label}); "
                + "SmtpLens must record one tls-policy event per policy for every session when started with "
                + "--policy-lookups --next-hop --policy-ca-file --dns-resolver");
            var disagreements = rows.Where(r => !r.Agrees).ToList();
            Assert.True(disagreements.Count == 0, $"SmtpLens's verdict differs from what Postfix did in {disagreements.Count} case(s):\n"
                + string.Join("\n", disagreements.Select(r => $"postfix:{r.Level} {r.Label}: Postfix {r.Postfix.Status} ({r.Postfix.Reason}), SmtpLens {r.Verdict!.Verdict} ({r.Verdict.Reason})")));
        }
        finally
        {
            foreach (var peer in Enumerable.Reverse(peers))
            {
                await peer.DisposeAsync();
            }

            if (dns is not null)
            {
                await dns.DisposeAsync();
            }

            if (Environment.GetEnvironmentVariable("SMTPLENS_KEEP_PEER_DIRS") != "1")
            {
                await PostfixInstance.DeleteDirectoryAsync(root);
            }
        }
    }

    private sealed record PostfixOutcome(string Status, string Reason, string Tls);

    private sealed record Row(string Level, string Label, string Condition, PostfixOutcome Postfix, VerdictSession? Session, PolicyVerdict? Verdict)
    {
        /// <summary>Delivered means the policy passed; deferred means it failed.</summary>
        public bool Agrees => Verdict is not null && (Postfix.Status == "sent" ? Verdict.Verdict == "pass" : Verdict.Verdict == "fail");
    }

    /// <summary>Starts in parallel; whatever started is in <paramref name="peers"/> (to be stopped) even when another start failed.</summary>
    private static async Task<T[]> StartAllAsync<T>(List<IAsyncDisposable> peers, IEnumerable<Task<T>> starts, Func<T, IAsyncDisposable> peer)
    {
        var tasks = starts.ToList();
        try
        {
            return await Task.WhenAll(tasks);
        }
        finally
        {
            foreach (var task in tasks.Where(t => t.IsCompletedSuccessfully))
            {
                peers.Add(peer(await task));
            }
        }
    }

    /// <summary>Local submission inside the namespace: sendmail checks inet_interfaces against the interfaces it sees.</summary>
    private static async Task SendmailAsync(string ns, PostfixInstance sender, IReadOnlyList<string> recipients, byte[] message)
    {
        var result = await ChildProcess.RunAsync(
            Transparent.NetworkNamespaces.Ip,
            ["netns", "exec", ns, "/usr/sbin/sendmail", "-C", sender.ConfigDirectory, "-i", "-f", $"policy@{sender.Hostname}", "--", .. recipients],
            TimeSpan.FromSeconds(30),
            CancellationToken.None,
            message);
        if (result.ExitCode != 0 || result.TimedOut)
        {
            throw new InvalidOperationException($"sendmail failed (exit {result.ExitCode}): {result.Output}\n{await sender.DescribeAsync()}");
        }
    }

    private static string ListenAddress(int condition) => $"127.0.1.{condition + 1}";

    private static string SenderAddress(int level) => $"127.0.3.{level + 1}";

    private static string UpstreamAddress(int upstream) => $"127.0.2.{upstream + 1}";

    private static string Outcome(List<Row> rows, string level, string label) => rows.Single(r => r.Level == level && r.Label == label).Postfix.Status;

    /// <summary>Each certificate names exactly the domains and MX hosts of the conditions served by its upstream.</summary>
    private static string[] NamesOf(Upstream upstream) =>
        [.. Conditions.Where(c => c.Upstream == upstream).SelectMany(c => new[] { $"mx.{c.Label}.{Zone}", $"{c.Label}.{Zone}" })];

    private static IEnumerable<string> ZoneRecords(Dictionary<Upstream, ServerCertificate> certificates)
    {
        for (var i = 0; i < Conditions.Length; i++)
        {
            var (label, _, upstream, tlsa) = Conditions[i];
            yield return $"{label} IN MX 10 mx.{label}";
            yield return $"mx.{label} IN A {ListenAddress(i)}";
            if (tlsa != Tlsa.None)
            {
                var digest = tlsa == Tlsa.Matching ? certificates[upstream].SpkiSha256Hex : PolicyPki.UnrelatedSpkiSha256Hex();
                yield return $"_25._tcp.mx.{label} IN TLSA 3 1 1 {digest}";
            }
        }
    }

    private static Dictionary<string, string> SenderMainCf(string level, string address, string caFile) => new()
    {
        // Deliver by MX lookup (no relayhost, no local delivery) through the namespace's validating resolver.
        ["relay_domains"] = "",
        ["default_transport"] = "smtp",
        ["relay_transport"] = "smtp",
        ["smtp_dns_support_level"] = "dnssec",
        ["smtp_host_lookup"] = "dns",
        ["smtp_bind_address"] = address,
        ["smtp_tls_security_level"] = level,
        ["smtp_tls_CAfile"] = caFile,
        ["smtp_tls_loglevel"] = "1",

        // The startup probe asks for the root's NS; this resolver knows only the test zone.
        ["dnssec_probe"] = "",

        // One attempt decides; no retries that would add sessions while the test reads its results.
        ["minimal_backoff_time"] = "300s",
        ["maximal_backoff_time"] = "300s",
        ["queue_run_delay"] = "300s",
    };

    /// <summary>The first status= line per recipient of this sender, once there is one for every condition.</summary>
    private static async Task<Dictionary<string, PostfixOutcome>> WaitForOutcomesAsync(PostfixInstance sender)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var log = await sender.ReadLogAsync();
            var lines = log.Split('\n');
            var outcomes = new Dictionary<string, PostfixOutcome>();
            foreach (var (label, _, _, _) in Conditions)
            {
                var status = lines.Select(l => StatusLine().Match(l)).FirstOrDefault(m => m.Success && m.Groups["to"].Value == $"probe@{label}.{Zone}");
                if (status is not null)
                {
                    var tls = lines.Select(l => TlsLine().Match(l)).FirstOrDefault(m => m.Success && m.Groups["host"].Value == $"mx.{label}.{Zone}");
                    outcomes[label] = new PostfixOutcome(status.Groups["status"].Value, status.Groups["reason"].Value, tls?.Groups["trust"].Value ?? "no TLS");
                }
            }

            if (outcomes.Count == Conditions.Length)
            {
                return outcomes;
            }

            if (clock.Elapsed > OutcomeTimeout)
            {
                throw new TimeoutException($"Postfix {sender.Hostname} logged a status for {outcomes.Count} of {Conditions.Length} recipients within {OutcomeTimeout.TotalSeconds:0} s.\n{await sender.DescribeAsync()}");
            }

            await Task.Delay(100);
        }
    }

    private static string Table(List<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"level",-8} {"condition",-36} {"Postfix did",-10} {"Postfix TLS",-12} {"SmtpLens",-15} agree  Postfix reason / SmtpLens reason");
        foreach (var r in rows.OrderBy(r => Array.IndexOf(Levels, r.Level)).ThenBy(r => Array.FindIndex(Conditions, c => c.Label == r.Label)))
        {
            var verdict = r.Verdict?.Verdict ?? (r.Session is null ? "no session" : "no event");
            text.AppendLine(CultureInfo.InvariantCulture, $"{r.Level,-8} {r.Condition,-36} {r.Postfix.Status,-10} {r.Postfix.Tls,-12} {verdict,-15} {(r.Agrees ? "yes" : "NO"),-6} {Shorten(r.Postfix.Reason)} / {Shorten(r.Verdict?.Reason ?? "")}");
        }

        return text.ToString();
    }

    private static string Shorten(string text) => text.Length <= 90 ? text : text[..87] + "...";

    // postfix/smtp[123]: 4Xyz: to=<probe@valid.lens.test>, relay=mx.valid.lens.test[127.0.1.1]:25, delay=0.1, ..., dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Abc)
    [GeneratedRegex(@"postfix/smtp\[\d+\]: \w+: to=<(?<to>[^>]+)>, .*status=(?<status>sent|deferred|bounced) \((?<reason>.*)\)$")]
    private static partial Regex StatusLine();

    // postfix/smtp[123]: Verified TLS connection established to mx.valid.lens.test[127.0.1.1]:25: TLSv1.2 ...
    [GeneratedRegex(@"postfix/smtp\[\d+\]: (?<trust>\w+) TLS connection established to (?<host>[^\[]+)\[")]
    private static partial Regex TlsLine();
}
