using System.Text;
using SmtpLens.Connectors;
using SmtpLens.Findings;
using SmtpLens.Net;
using SmtpLens.Probe;
using SmtpLens.Probe.Diff;
using SmtpLens.Protocol;
using SmtpLens.Relay;
using SmtpLens.Simulation;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Lab.Scenarios;

/// <summary>The built-in scenarios: each seed incident, the firewall demonstrations, and a healthy control.</summary>
internal static class LabScenarios
{
    private const string Sender = "alerts@varunagroup.lab";
    private const string Recipient = "postmaster@partner.lab";
    private const string Upstream = "mx.partner.lab";

    private const string SpamhausRefusal =
        "550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1";

    public static IReadOnlyList<LabScenario> All { get; } =
    [
        new("healthy", "control", "STARTTLS with modern TLS end to end, valid certificates, mail delivered, no warnings.", HealthyAsync),
        new("blocklisted-sender", "seeds 000, 001", "The upstream withholds STARTTLS from a listed sender: a TLS-requiring sender queues with 451; plaintext mail meets the block-list reply.", BlocklistedSenderAsync),
        new("firewall-strips-starttls", "seed 003", "A simulated ESMTP-inspection firewall strips STARTTLS; a probe from the other side shows the server offers it.", FirewallStripsStartTlsAsync),
        new("cisco-esmtp-inspection", "seeds 000, 003", "Cisco-style inspection: a masked banner, 250-XXXXXXXA in place of STARTTLS, and STARTTLS refused as an unknown command.", CiscoInspectionAsync),
        new("legacy-rc4-appliance", "seed 002", "A TLS 1.0/RC4-only sender and two upstreams: one accepts RC4, one drops the connection right after the handshake.", LegacyRc4Async),
        new("expired-certificate", "seed 003", "Forced TLS to an upstream whose certificate has expired: the sender defers.", ExpiredCertificateAsync),
        new("exo-forced-tls", "seed 003", "Exchange Online with forced TLS meets a hybrid server whose EHLO name is not on its certificate, then one whose CA's CRL cannot be fetched; the sender queues both times and SmtpLens names each cause (--check-revocation).", ExoForcedTlsAsync),
        new("connector-overlap", "seed 004", "Gateways mx01/mx02 and the Edge smtpo365 present their own certificates; a wildcard inbound connector (*.varunagroup.de) catches all three, until the seed's fix gives it a dedicated name.", ConnectorOverlapAsync),
    ];

    public static LabScenario? Find(string name) => All.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    private static LabMessage Message(string subject) =>
        new(Sender, [Recipient], Encoding.ASCII.GetBytes($"From: <{Sender}>\r\nTo: <{Recipient}>\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@varunagroup.lab>\r\n\r\nSent by the SmtpLens lab.\r\n"));

    private static bool NoWarnings(SessionSummary session) => session.Findings.All(f => f.Severity == FindingSeverity.Info);

    private static async Task HealthyAsync(ScenarioRun run, CancellationToken ct)
    {
        var hop = run.StartHop("healthy", new LabServerOptions { Hostname = Upstream, TlsCertificate = run.Certificate(Upstream, [Upstream]) }, run.Intercept());
        run.Setup.Add($"lab upstream {Upstream} ({hop.Upstream.EndPoint}) offers STARTTLS with a valid certificate from the lab's public CA");
        run.Setup.Add($"SmtpLens ({hop.ProxyEndPoint}) intercepts STARTTLS with its lab CA and trusts the lab's public CA upstream (--upstream-ca)");
        run.Setup.Add("the sender requires TLS");

        var (result, session) = await hop.SendAsync(Message("healthy"), new LabClientOptions { RequireTls = true, TlsServerName = Upstream }, ct);
        run.KeySession = session.SessionId;
        run.ExpectFate("message over STARTTLS", result.Fates[0], delivered: true);
        run.Check("TLS on both legs", session.TlsLegs.Count == 2 && session.TlsLegs.All(l => l.Completed), string.Join("; ", session.TlsLegs.Select(l => l.Summary())));
        run.Check("no warning or error findings", NoWarnings(session), session.Findings.Count == 0 ? "none" : string.Join(", ", session.Findings.Select(f => f.Code)));
    }

    private static async Task BlocklistedSenderAsync(ScenarioRun run, CancellationToken ct)
    {
        var listed = new LabServerOptions
        {
            Hostname = Upstream,
            Refusals = new Dictionary<SmtpVerb, string> { [SmtpVerb.Mail] = SpamhausRefusal },
        };
        var hop = run.StartHop("blocklisted", listed, run.Intercept());
        run.Setup.Add($"lab upstream {Upstream} treats the sender's IP as listed: it withholds STARTTLS from it and refuses MAIL with \"{SpamhausRefusal}\"");
        run.Setup.Add("run 1: the sender requires TLS (a TLS-enforcing send connector); run 2: the same sender without TLS");

        var (tlsRun, first) = await hop.SendAsync(Message("requires TLS"), new LabClientOptions { RequireTls = true }, ct);
        run.KeySession = first.SessionId;
        run.ExpectFate("run 1, TLS required", tlsRun.Fates[0], delivered: false, contains: "STARTTLS is required");
        run.ExpectFinding(first, FindingCodes.StartTlsNotOffered);
        var notOffered = first.Findings.FirstOrDefault(f => f.Code == FindingCodes.StartTlsNotOffered);
        var blockListCause = notOffered?.Causes.FirstOrDefault(c => c.Contains("block list", StringComparison.OrdinalIgnoreCase));
        run.Check("the explanation names the block-list cause", blockListCause is not null, blockListCause ?? "no such cause in the finding");

        var (plainRun, second) = await hop.SendAsync(Message("plaintext"), new LabClientOptions(), ct);
        run.ExpectFate("run 2, plaintext", plainRun.Fates[0], delivered: false, contains: "zen.spamhaus.org");
        run.ExpectFinding(second, FindingCodes.BlocklistRejection);
    }

    private static async Task FirewallStripsStartTlsAsync(ScenarioRun run, CancellationToken ct)
    {
        var upstream = new LabServerOptions { Hostname = Upstream, TlsCertificate = run.Certificate(Upstream, [Upstream]) };
        var hop = run.StartHop("firewall", upstream, run.Intercept(), SimulationRules.Parse(["strip-keywords=STARTTLS"]));
        run.Setup.Add($"lab upstream {Upstream} offers STARTTLS");
        run.Setup.Add("between sender and upstream, a SIMULATED ESMTP-inspection firewall strips STARTTLS from the EHLO reply (--simulate strip-keywords=STARTTLS)");
        run.Setup.Add("the sender uses TLS opportunistically, as most MTAs do");

        var (result, session) = await hop.SendAsync(Message("through the firewall"), new LabClientOptions { OpportunisticTls = true }, ct);
        run.KeySession = session.SessionId;
        run.ExpectFate("message through the firewall", result.Fates[0], delivered: true);
        run.Check("sent in plaintext", session.TlsLegs.Count == 0, session.TlsLegs.Count == 0 ? "no TLS: STARTTLS was never offered" : "TLS happened");
        run.ExpectFinding(session, FindingCodes.StartTlsNotOffered);

        // The other side of the firewall: probe the server directly and through the firewall, then diff the two.
        var probe = new SmtpProbe(new ProbeOptions { EhloName = "probe.varunagroup.lab", ServerName = Upstream, Transcripts = new TranscriptOptions { Directory = run.TranscriptDirectory, Instance = "lab" } }, run.Time);
        var inside = await probe.RunAsync(new HostPort("127.0.0.1", hop.Upstream.EndPoint.Port), null, ct);
        var outside = await probe.RunAsync(new HostPort("127.0.0.1", hop.ProxyEndPoint.Port), null, ct);
        await hop.NextSessionAsync(ct);
        var diff = ProbeDiff.Compare(DialogueSnapshot.FromEvents("inside the firewall", inside.Events), DialogueSnapshot.FromEvents("through the firewall", outside.Events));
        run.Outcomes.Add("probe inside vs through the firewall (smtplens diff):");
        run.Outcomes.AddRange(DiffReport.Text(diff).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => "    " + l.TrimEnd()));
        var stripped = diff.Findings.FirstOrDefault(f => f.Code == FindingCodes.EhloKeywordStripped);
        run.Check("diff raises EHLO_KEYWORD_STRIPPED for STARTTLS", stripped?.Title.Contains("STARTTLS", StringComparison.Ordinal) == true, stripped?.Title ?? "diff raised: " + string.Join(", ", diff.Findings.Select(f => f.Code)));
    }

    private static async Task CiscoInspectionAsync(ScenarioRun run, CancellationToken ct)
    {
        var upstream = new LabServerOptions { Hostname = Upstream, Banner = $"{Upstream} Microsoft ESMTP MAIL Service ready at Sun, 22 Nov 2026 10:00:00 +0000", TlsCertificate = run.Certificate(Upstream, [Upstream]) };
        var hop = run.StartHop("cisco", upstream, run.Intercept(), SimulationRules.Parse(["mask-banner", "mask-keywords=STARTTLS", "refuse-commands=STARTTLS"]));
        run.Setup.Add($"lab upstream {Upstream} offers STARTTLS");
        run.Setup.Add("a SIMULATED Cisco ESMTP inspection masks the banner, writes 250-XXXXXXXA over STARTTLS and refuses STARTTLS as an unknown command");
        run.Setup.Add("run 1: a sender that tries STARTTLS anyway; run 2: an opportunistic sender");

        var (forced, first) = await hop.SendAsync(Message("forced STARTTLS"), new LabClientOptions { StartTls = true }, ct);
        run.KeySession = first.SessionId;
        run.Check("STARTTLS refused as unknown", forced.Error?.Contains("500 5.5.1 Command unrecognized: \"XXXXXXXX\"", StringComparison.Ordinal) == true, forced.Error ?? "no error");
        run.Outcomes.Add($"run 1, STARTTLS forced: {forced.Error}");
        run.ExpectFinding(first, FindingCodes.BannerMasked);
        run.ExpectFinding(first, FindingCodes.EhloKeywordMasked);

        var (plain, second) = await hop.SendAsync(Message("opportunistic"), new LabClientOptions { OpportunisticTls = true }, ct);
        run.ExpectFate("run 2, opportunistic sender", plain.Fates[0], delivered: true);
        run.Check("run 2 went in plaintext", second.TlsLegs.Count == 0, "the sender saw XXXXXXXA, not STARTTLS");
    }

    private static async Task LegacyRc4Async(ScenarioRun run, CancellationToken ct)
    {
        var rc4 = TlsRestriction.Parse("1.0:RC4").Apply();
        var accepting = run.StartHop("rc4-accepted", new LabServerOptions { Hostname = "mx1." + Upstream, BouncyTls = (run.PublicCa.Issue("mx1." + Upstream, ["mx1." + Upstream], run.Now.AddDays(-1), run.Now.AddDays(90)), rc4) }, run.Intercept(), SimulationRules.Parse(["client-tls=1.0:RC4", "upstream-tls=1.0:RC4"]));
        var dropping = run.StartHop("rc4-dropped", new LabServerOptions { Hostname = "mx2." + Upstream, BouncyTls = (run.PublicCa.Issue("mx2." + Upstream, ["mx2." + Upstream], run.Now.AddDays(-1), run.Now.AddDays(90)), rc4), DropAfterTlsHandshake = true }, run.Intercept(), SimulationRules.Parse(["client-tls=1.0:RC4", "upstream-tls=1.0:RC4"]));
        run.Setup.Add("the sender is an appliance that speaks only TLS 1.0 with RC4 (BouncyCastle, since OpenSSL 3 has no RC4)");
        run.Setup.Add($"mx1.{Upstream} accepts TLS 1.0/RC4; mx2.{Upstream} completes the same handshake and then drops the connection, as servers that had disabled RC4 did");
        run.Setup.Add("SmtpLens sits in front of each, accepting and offering TLS 1.0/RC4 (--simulate client-tls=1.0:RC4 upstream-tls=1.0:RC4)");

        var options = new LabClientOptions { StartTls = true, BouncyPolicy = rc4 };
        var (toFirst, first) = await accepting.SendAsync(Message("via mx1"), options with { TlsServerName = "mx1." + Upstream }, ct);
        var (toSecond, second) = await dropping.SendAsync(Message("via mx2"), options with { TlsServerName = "mx2." + Upstream }, ct);
        run.KeySession = second.SessionId;
        run.ExpectFate("via mx1 (RC4 accepted)", toFirst.Fates[0], delivered: true);
        run.ExpectFate("via mx2 (drops after the handshake)", toSecond.Fates[0], delivered: false);
        run.ExpectFinding(first, FindingCodes.TlsLegacyProtocol);
        run.ExpectFinding(first, FindingCodes.TlsWeakCipher);
        run.ExpectFinding(second, FindingCodes.TlsDroppedAfterHandshake);
        run.Outcomes.Add("the intermittent pattern: the same sender and message succeed through one MX and fail through the other, depending on which server the sender happens to pick");
    }

    private static async Task ExpiredCertificateAsync(ScenarioRun run, CancellationToken ct)
    {
        var expired = run.Certificate(Upstream, [Upstream], run.Now.AddDays(-400), run.Now.AddDays(-35));
        var hop = run.StartHop("expired", new LabServerOptions { Hostname = Upstream, TlsCertificate = expired }, run.Intercept());
        run.Setup.Add($"lab upstream {Upstream} offers STARTTLS with a certificate that expired on {expired.NotAfter.ToUniversalTime():yyyy-MM-dd}");
        run.Setup.Add("the sender forces TLS and checks certificate dates; SmtpLens's forged certificate mirrors the expiry, so the sender sees what it would see without SmtpLens");

        var (result, session) = await hop.SendAsync(Message("to an expired certificate"), new LabClientOptions { RequireTls = true, CheckCertificateDates = true, TlsServerName = Upstream }, ct);
        run.KeySession = session.SessionId;
        run.ExpectFate("message with forced TLS", result.Fates[0], delivered: false, contains: "expired");
        run.ExpectFinding(session, FindingCodes.CertExpired);
    }

    /// <summary>Seed 003: Exchange Online sends to the hybrid server with forced TLS. It requires the name the server gives
    /// in its EHLO reply to be on the certificate, and the issuing CA's CRL to be readable; either failing queues the mail.
    /// The sender here applies those two rules to what it is shown; SmtpLens, with --check-revocation, names the cause.</summary>
    private static async Task ExoForcedTlsAsync(ScenarioRun run, CancellationToken ct)
    {
        const string Hybrid = "mail.contoso.lab";
        const string InternalName = "exch01.contoso.local";
        var checker = run.EnableRevocation();
        var crlUrl = $"http://127.0.0.1:{ClosedLoopbackPort()}/contoso-ca.crl";
        async Task<string?> ExchangeOnlineRulesAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, string ehloName, CancellationToken token)
        {
            var names = CertificateSummary.From(certificate);
            if (!names.Matches(ehloName))
            {
                return $"the server calls itself {ehloName} in its EHLO reply, which is not on its certificate ({string.Join(", ", names.DnsNames)})";
            }

            var crl = await checker.CheckAsync("upstream", 0, certificate.RawData, null, token);
            return crl.CrlReachable == false ? $"the CRL of the certificate's issuer cannot be read ({string.Join("; ", crl.Unreachable.Select(s => s.Describe()))})" : null;
        }

        var sender = new LabClientOptions { RequireTls = true, TlsServerName = Hybrid, CertificateCheck = ExchangeOnlineRulesAsync };
        run.Setup.Add("the sender stands in for Exchange Online's outbound connector to the hybrid server: forced TLS, and it refuses a certificate that does not name the server's EHLO name or whose CA's CRL it cannot read (seed 003)");
        run.Setup.Add("SmtpLens intercepts STARTTLS with --check-revocation: it fetches the CRLs and asks the OCSP responders the upstream's certificates name, off the relay path");

        var misnamed = run.StartHop("exo-ehlo-name", new LabServerOptions { Hostname = InternalName, TlsCertificate = run.Certificate(Hybrid, [Hybrid]) }, run.Intercept());
        run.Setup.Add($"run 1: hybrid server {Hybrid} answers EHLO as {InternalName} (an internal FQDN on its receive connector); its certificate names only {Hybrid}");
        var (first, firstSession) = await misnamed.SendAsync(Message("forced TLS, run 1"), sender, ct);
        run.KeySession = firstSession.SessionId;
        run.ExpectFate("run 1, EHLO name not on the certificate", first.Fates[0], delivered: false, contains: "not on its certificate");
        run.ExpectFinding(firstSession, FindingCodes.EhloNameNotInCertificate);
        ExpectExoInbound(run, "run 1", firstSession, "SubjectMismatch");

        var unreachable = run.StartHop(
            "exo-crl",
            new LabServerOptions { Hostname = Hybrid, TlsCertificate = run.PublicCa.ToX509WithKey(run.PublicCa.Issue(Hybrid, [Hybrid], run.Now.AddDays(-1), run.Now.AddDays(90), extensions: [System.Security.Cryptography.X509Certificates.CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([crlUrl])])) },
            run.Intercept());
        run.Setup.Add($"run 2: the connector's FQDN is fixed ({Hybrid} in EHLO), but the certificate's CRL distribution point {crlUrl} answers nobody (the seed's unreachable CRL)");
        var (second, secondSession) = await unreachable.SendAsync(Message("forced TLS, run 2"), sender, ct);
        run.ExpectFate("run 2, CRL unreachable", second.Fates[0], delivered: false, contains: "CRL");
        run.Check("run 2: no EHLO-name finding", secondSession.Findings.All(f => f.Code != FindingCodes.EhloNameNotInCertificate), string.Join(", ", secondSession.Findings.Select(f => f.Code)));

        // The check runs off the relay path: its result may follow the summary; the transcript has it either way.
        await checker.IdleAsync().WaitAsync(TimeSpan.FromSeconds(30), ct);
        var recorded = FindingEngine.Analyze(JsonLinesTranscriptReader.Read(Path.Combine(run.TranscriptDirectory, secondSession.SessionId + ".jsonl")));
        var late = recorded.Where(f => f.Code is FindingCodes.CertRevocationUnreachable && secondSession.Findings.All(s => s.Signature != f.Signature)).ToList();
        run.RunFindings.AddRange(late);
        var crlFinding = recorded.FirstOrDefault(f => f.Code == FindingCodes.CertRevocationUnreachable);
        run.Check($"{FindingCodes.CertRevocationUnreachable} raised (run 2)", crlFinding?.Title.Contains(crlUrl, StringComparison.Ordinal) == true, crlFinding?.Title ?? "raised: " + string.Join(", ", recorded.Select(f => f.Code).Distinct()));
        run.Outcomes.Add($"run 2, SmtpLens's revocation check: {crlFinding?.Title ?? "(none)"}");
        ExpectExoInbound(run, "run 2", secondSession, "RevocationStatusUnknown");
    }

    /// <summary>The exo-inbound verdict names the same cause as the sender standing in for Exchange Online.</summary>
    private static void ExpectExoInbound(ScenarioRun run, string label, Relay.SessionSummary session, string error)
    {
        var verdict = session.Policies.FirstOrDefault(p => p.Policy == Policy.PolicyIds.ExoInbound);
        run.Check($"{label}: policy exo-inbound fails with {error}", verdict is { Verdict: Policy.Verdict.Fail } && verdict.Reason.Contains(error, StringComparison.Ordinal), verdict?.Line() ?? "no exo-inbound verdict");
    }

    private static int ClosedLoopbackPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Seed 004: the gateways mx01/mx02 and the Edge smtpo365 each present their own certificate; the hybrid
    /// connector's TlsSenderCertificateName *.varunagroup.de catches all three. The seed's fix, a dedicated name, is
    /// applied to the same sessions.</summary>
    private static async Task ConnectorOverlapAsync(ScenarioRun run, CancellationToken ct)
    {
        const string Edge = "smtpo365.varunagroup.de";
        string[] senders = ["mx01.varunagroup.de", "mx02.varunagroup.de", Edge];
        var before = await ConnectorsAsync(run, "connectors-wildcard.json", "*.varunagroup.de", ct);

        // Live, as proxy --connectors runs it (unless lab --connectors gave other connectors).
        var live = run.Connectors is null;
        run.Connectors ??= new ConnectorWatch(before.Connectors);
        var hop = run.StartHop(
            "connector-overlap",
            new LabServerOptions { Hostname = Upstream, TlsCertificate = run.Certificate(Upstream, [Upstream]), RequestClientCertificate = true },
            run.Intercept() with { UpstreamClientCertificate = UpstreamClientCertificate.Mirror });
        run.Setup.Add($"three senders, each with a client certificate for its own name from the lab's CA: the gateways {senders[0]} and {senders[1]}, and the Edge server {Edge}");
        run.Setup.Add($"lab upstream {Upstream} stands in for Exchange Online and asks for client certificates; SmtpLens requests the senders' certificates and mirrors them upstream (--mirror-client-cert)");

        var sessions = new List<SessionSummary>();
        foreach (var name in senders)
        {
            using var certificate = run.PublicCa.ToX509WithKey(run.PublicCa.Issue(name, [name], run.Now.AddDays(-10), run.Now.AddDays(300), clientAuth: true));
            var (result, session) = await hop.SendAsync(Message("via " + name), new LabClientOptions { Helo = name, RequireTls = true, ClientCertificate = certificate, TlsServerName = Upstream }, ct);
            run.ExpectFate($"message from {name}", result.Fates[0], delivered: true);
            sessions.Add(session);
        }

        run.KeySession = sessions[0].SessionId;
        var seen = hop.Upstream.ClientCertificateSubjects.ToList();
        run.Check("the upstream saw each sender's certificate", senders.All(n => seen.Contains("CN=" + n)), string.Join(", ", seen));

        // The run's own transcripts are the evidence, as for smtplens connectors --transcripts.
        var recorded = sessions
            .Select(s => ConnectorSender.From(s.SessionId, JsonLinesTranscriptReader.Read(Path.Combine(run.TranscriptDirectory, s.SessionId + ".jsonl"))))
            .ToList();
        var after = await ConnectorsAsync(run, "connectors-dedicated.json", Edge, ct);
        run.Setup.Add($"inbound connector \"{HybridConnector}\" (OnPremises, as the Hybrid Configuration Wizard creates it) with TlsSenderCertificateName *.varunagroup.de ({RunPath(run, before.Path)}); the seed's fix, TlsSenderCertificateName {Edge}, in {RunPath(run, after.Path)}");

        var overlaps = Evaluate(run, "with *.varunagroup.de", before.Connectors, recorded);
        var overlap = overlaps.FirstOrDefault(f => f.Code == FindingCodes.ConnectorWildcardOverlap);
        run.RunFindings.AddRange(overlaps);
        run.Check(
            "CONNECTOR_WILDCARD_OVERLAP names the three hosts",
            overlap is not null && senders.All(n => overlap.Title.Contains(n, StringComparison.Ordinal)),
            overlap?.Title ?? "no overlap finding");
        if (live)
        {
            var raised = sessions.SelectMany(s => s.Findings).Where(f => f.Code == FindingCodes.ConnectorWildcardOverlap).ToList();
            run.Check(
                "live (proxy --connectors): the overlap is raised as the second and third hosts arrive, the last naming all three as offline",
                raised.Select(f => f.Session).SequenceEqual([sessions[1].SessionId, sessions[2].SessionId]) && raised[^1].Title == overlap?.Title,
                raised.Count == 0 ? "not raised live" : string.Join("; ", raised.Select(f => $"{f.Session}: {f.Title}")));
            run.Check(
                "live: each session's summary names the connector it lands on",
                sessions.All(s => s.Connector?.StartsWith($"inbound connector \"{HybridConnector}\" (OnPremises)", StringComparison.Ordinal) == true),
                string.Join("; ", sessions.Select(s => s.Connector ?? "(none)")));
        }

        var gatewaysOnHybrid = recorded.Take(2).Select(s => ConnectorSelection.Select(before.Connectors, s)).ToList();
        run.Check(
            "the gateways land on the hybrid connector (the wrong one)",
            gatewaysOnHybrid.All(m => m.Connector?.Name == HybridConnector),
            string.Join("; ", gatewaysOnHybrid.Select(m => $"{m.Sender.Ehlo}: {m.Connector?.Name ?? m.Reason}")));

        var fixedOverlaps = Evaluate(run, $"with the fix, {Edge}", after.Connectors, recorded);
        run.Check("with the dedicated name, no overlap", fixedOverlaps.Count == 0, fixedOverlaps.Count == 0 ? "none" : string.Join(", ", fixedOverlaps.Select(f => f.Title)));
        var matching = recorded.Where(s => ConnectorSelection.Select(after.Connectors, s).Connector is not null).Select(s => (s.CertificateNames.Count > 0 ? s.CertificateNames[0] : s.Session)).ToList();
        run.Check("with the dedicated name, only the Edge matches the hybrid connector", matching.SequenceEqual([Edge]), matching.Count == 0 ? "nothing matches" : string.Join(", ", matching));
    }

    private const string HybridConnector = "Inbound from Varuna Group on-premises";

    private static string RunPath(ScenarioRun run, string path) => Path.GetRelativePath(run.OutputDirectory, path);

    /// <summary>The hybrid connector as connector JSON in the run's folder, read back as smtplens connectors FILE would.</summary>
    private static async Task<(string Path, IReadOnlyList<InboundConnector> Connectors)> ConnectorsAsync(ScenarioRun run, string file, string certificateName, CancellationToken ct)
    {
        var json = $$"""
            [
              {
                "Name": "{{HybridConnector}}",
                "ConnectorType": "OnPremises",
                "TlsSenderCertificateName": "{{certificateName}}",
                "RequireTls": true,
                "SenderIPAddresses": [],
                "SenderDomains": ["*"]
              }
            ]
            """;
        var path = Path.Combine(run.OutputDirectory, file);
        Directory.CreateDirectory(run.OutputDirectory);
        await File.WriteAllTextAsync(path, json + "\n", ct);
        return (path, InboundConnector.Parse(await File.ReadAllTextAsync(path, ct)));
    }

    /// <summary>Which connector each recorded sender lands on, into the outcomes, and the overlap findings.</summary>
    private static IReadOnlyList<Finding> Evaluate(ScenarioRun run, string label, IReadOnlyList<InboundConnector> connectors, IReadOnlyList<ConnectorSender> senders)
    {
        run.Outcomes.Add($"inbound connector selection {label}:");
        foreach (var sender in senders)
        {
            var match = ConnectorSelection.Select(connectors, sender);
            var who = $"{(sender.CertificateNames.Count > 0 ? sender.CertificateNames[0] : "(no certificate)")} (session {sender.Session})";
            run.Outcomes.Add(match.Connector is null ? $"    {who} -> {match.Reason}" : $"    {who} -> \"{match.Connector.Name}\": {match.Reason}");
        }

        var overlaps = ConnectorSelection.Overlaps(connectors, senders);
        run.Outcomes.Add(overlaps.Count == 0 ? "    no CONNECTOR_WILDCARD_OVERLAP" : $"    {string.Join("; ", overlaps.Select(f => $"{f.Code}: {f.Title}"))}");
        return overlaps;
    }
}
