using Microsoft.Extensions.Logging.Abstractions;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Cli;
using SmtpLens.Lab.Scenarios;

namespace SmtpLens.IntegrationTests.Lab;

/// <summary>Every lab scenario reproduces its incident: the delivery outcome and the findings it is meant to show.</summary>
public sealed class ScenarioTests : IDisposable
{
    private readonly DirectoryInfo _out = Directory.CreateTempSubdirectory("smtplens-scenario-");

    public void Dispose() => _out.Delete(recursive: true);

    private async Task<ScenarioResult> RunAsync(string name)
    {
        var scenario = LabScenarios.Find(name) ?? throw new InvalidOperationException($"no scenario {name}");
        var result = await scenario.RunAsync(Path.Combine(_out.FullName, name), NullLogger.Instance, TimeProvider.System, CancellationToken.None);
        Assert.True(result.Reproduced, string.Join("\n", result.Checks.Select(c => c.Line)));
        return result;
    }

    private static IEnumerable<string> Codes(ScenarioResult result, int session) => result.Sessions[session].Findings.Select(f => f.Code);

    [Fact]
    public async Task Healthy_Delivers_Over_Tls_With_No_Warning()
    {
        var result = await RunAsync("healthy");
        var session = Assert.Single(result.Sessions);
        Assert.All(session.Findings, f => Assert.Equal(FindingSeverity.Info, f.Severity));
        Assert.All(session.TlsLegs, l => Assert.True(l.Completed));
        Assert.Contains("delivered: 250", result.Outcomes[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Blocklisted_Sender_Queues_With_451_And_Meets_The_Block_List_Reply()
    {
        var result = await RunAsync("blocklisted-sender");
        Assert.Equal(2, result.Sessions.Count);
        Assert.Contains(FindingCodes.StartTlsNotOffered, Codes(result, 0));
        Assert.Equal(FindingSeverity.Warning, result.Sessions[0].Findings.Single(f => f.Code == FindingCodes.StartTlsNotOffered).Severity);
        Assert.Contains(FindingCodes.BlocklistRejection, Codes(result, 1));
        Assert.Contains("deferred: 451 4.4.0 Primary target IP address responded with: \"451 5.7.3 STARTTLS is required to send mail.\"", result.Outcomes[0], StringComparison.Ordinal);
        Assert.Contains("zen.spamhaus.org", result.Outcomes[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Firewall_Stripping_StartTls_Is_Shown_By_Both_Sides()
    {
        var result = await RunAsync("firewall-strips-starttls");
        Assert.Contains(FindingCodes.StartTlsNotOffered, Codes(result, 0));
        var log = await File.ReadAllTextAsync(Path.Combine(result.TranscriptDirectory, result.KeySession + ".log"));
        Assert.Contains("SIMULATED middlebox: removed EHLO keyword STARTTLS", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cisco_Inspection_Masks_Banner_And_StartTls()
    {
        var result = await RunAsync("cisco-esmtp-inspection");
        Assert.Contains(FindingCodes.BannerMasked, Codes(result, 0));
        Assert.Contains(FindingCodes.EhloKeywordMasked, Codes(result, 0));
        Assert.All(result.Sessions[0].Findings, f => Assert.Contains("[SIMULATED]", f.Title, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Legacy_Rc4_Appliance_Succeeds_Through_One_Mx_And_Is_Dropped_By_The_Other()
    {
        var result = await RunAsync("legacy-rc4-appliance");
        Assert.Contains(FindingCodes.TlsLegacyProtocol, Codes(result, 0));
        Assert.Contains(FindingCodes.TlsWeakCipher, Codes(result, 0));
        Assert.DoesNotContain(FindingCodes.TlsDroppedAfterHandshake, Codes(result, 0));
        Assert.Contains(FindingCodes.TlsDroppedAfterHandshake, Codes(result, 1));
    }

    [Fact]
    public async Task Expired_Certificate_Defers_Forced_Tls()
    {
        var result = await RunAsync("expired-certificate");
        Assert.Contains(FindingCodes.CertExpired, Codes(result, 0));
        Assert.Contains("expired on", result.Outcomes[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exo_Forced_Tls_Queues_On_The_Ehlo_Name_Then_On_The_Unreachable_Crl_And_Names_Each_Cause()
    {
        var result = await RunAsync("exo-forced-tls");
        Assert.Equal(2, result.Sessions.Count);
        Assert.Contains(FindingCodes.EhloNameNotInCertificate, Codes(result, 0));
        Assert.DoesNotContain(FindingCodes.CertRevocationUnreachable, Codes(result, 0));
        Assert.Contains("deferred (queued for retry)", result.Outcomes[0], StringComparison.Ordinal);
        Assert.Contains("deferred (queued for retry): the TLS certificate is not accepted: the CRL", result.Outcomes[1], StringComparison.Ordinal);

        // Run 2's cause arrives from the revocation check: in the session's findings or, if later, in the run's.
        var crl = Assert.Single(result.Findings, f => f.Code == FindingCodes.CertRevocationUnreachable);
        Assert.Equal(result.Sessions[1].SessionId, crl.Session);
        Assert.Equal(FindingSeverity.Error, crl.Severity);
        Assert.Contains("unreachable: connection refused", crl.Title, StringComparison.Ordinal);
        var log = await File.ReadAllTextAsync(Path.Combine(result.TranscriptDirectory, result.Sessions[1].SessionId + ".log"));
        Assert.Contains("* revocation upstream certificate [0] CN=mail.contoso.lab", log, StringComparison.Ordinal);

        // Exchange Online's inbound rules as a verdict, each run failing on its own cause (the CRL from --check-revocation).
        string ExoInbound(int run) => Assert.Single(result.Sessions[run].Policies, p => p.Policy == SmtpLens.Policy.PolicyIds.ExoInbound).Line();
        Assert.Contains("FAIL: 451 4.4.0 Primary target IP address responded with: \"TLS negotiation failed with error SubjectMismatch (the server calls itself exch01.contoso.local", ExoInbound(0), StringComparison.Ordinal);
        Assert.Contains("FAIL: 451 4.4.0 Primary target IP address responded with: \"TLS negotiation failed with error RevocationStatusUnknown (upstream certificate [0] CN=mail.contoso.lab: CRL http://127.0.0.1:", ExoInbound(1), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connector_Overlap_Names_The_Three_Hosts_And_Goes_Away_With_A_Dedicated_Name()
    {
        var result = await RunAsync("connector-overlap");
        Assert.Equal(3, result.Sessions.Count);
        Assert.All(result.Sessions, s => Assert.NotEmpty(s.TlsLegs));

        // One overlap finding over the run, from the wildcard connector only: the fix in the same run raises none.
        var overlap = Assert.Single(result.RunFindings!, f => f.Code == FindingCodes.ConnectorWildcardOverlap);

        // Live (proxy --connectors): raised in the sessions that added a host; the last is the offline answer.
        var live = result.Sessions.SelectMany(s => s.Findings).Where(f => f.Code == FindingCodes.ConnectorWildcardOverlap).ToList();
        Assert.Equal([result.Sessions[1].SessionId, result.Sessions[2].SessionId], live.Select(f => f.Session));
        Assert.Contains("matches 2 sending hosts", live[0].Title, StringComparison.Ordinal);
        Assert.Equal(overlap.Title, live[1].Title);
        Assert.All(result.Sessions, s => Assert.Contains("inbound connector \"Inbound from Varuna Group on-premises\" (OnPremises): OnPremises, certificate", s.Connector, StringComparison.Ordinal));
        Assert.Equal(FindingSeverity.Warning, overlap.Severity);
        Assert.Contains("*.varunagroup.de matches 3 sending hosts", overlap.Title, StringComparison.Ordinal);
        foreach (var host in new[] { "mx01.varunagroup.de", "mx02.varunagroup.de", "smtpo365.varunagroup.de" })
        {
            Assert.Contains($"{host} (CN={host}", overlap.Title, StringComparison.Ordinal);
        }

        var wildcard = Section(result.Outcomes, "inbound connector selection with *.varunagroup.de:");
        Assert.Equal(4, wildcard.Count);
        Assert.All(wildcard.Take(3), l => Assert.Contains("-> \"Inbound from Varuna Group on-premises\": OnPremises, certificate", l, StringComparison.Ordinal));
        Assert.StartsWith("    CONNECTOR_WILDCARD_OVERLAP", wildcard[3], StringComparison.Ordinal);

        var dedicated = Section(result.Outcomes, "inbound connector selection with the fix, smtpo365.varunagroup.de:");
        Assert.Contains("mx01.varunagroup.de (session", dedicated[0], StringComparison.Ordinal);
        Assert.Contains("-> no connector matches", dedicated[0], StringComparison.Ordinal);
        Assert.Contains("-> no connector matches", dedicated[1], StringComparison.Ordinal);
        Assert.Contains("smtpo365.varunagroup.de (session", dedicated[2], StringComparison.Ordinal);
        Assert.Contains("-> \"Inbound from Varuna Group on-premises\"", dedicated[2], StringComparison.Ordinal);
        Assert.Equal("    no CONNECTOR_WILDCARD_OVERLAP", dedicated[3]);

        // The connector JSON is in the run's folder, so smtplens connectors can be pointed at it afterwards.
        var json = await File.ReadAllTextAsync(Path.Combine(_out.FullName, "connector-overlap", "connectors-wildcard.json"));
        Assert.Contains("\"TlsSenderCertificateName\": \"*.varunagroup.de\"", json, StringComparison.Ordinal);
        var log = await File.ReadAllTextAsync(Path.Combine(result.TranscriptDirectory, result.KeySession + ".log"));
        Assert.Contains("upstream leg SmtpLens client certificate [0]: subject CN=mx01.varunagroup.de", log, StringComparison.Ordinal);
    }

    private static List<string> Section(IReadOnlyList<string> outcomes, string heading) =>
        [.. outcomes.SkipWhile(l => l != heading).Skip(1).TakeWhile(l => l.StartsWith("    ", StringComparison.Ordinal))];

    [Fact]
    public async Task Cli_Lists_The_Scenarios_And_Runs_One_With_Exit_0()
    {
        var (listCode, list, _) = await SmtplensProcess.RunAsync("lab", "--list");
        Assert.Equal(0, listCode);
        foreach (var scenario in LabScenarios.All)
        {
            Assert.Contains(scenario.Name, list, StringComparison.Ordinal);
        }

        var (code, stdout, stderr) = await SmtplensProcess.RunAsync("lab", "--scenario", "cisco-esmtp-inspection", "--out", _out.FullName);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("What was set up:", stdout, StringComparison.Ordinal);
        Assert.Contains("Transcript excerpt", stdout, StringComparison.Ordinal);
        Assert.Contains("EHLO_KEYWORD_MASKED", stdout, StringComparison.Ordinal);
        Assert.Contains("Scenario cisco-esmtp-inspection reproduced as designed.", stdout, StringComparison.Ordinal);
    }
}
