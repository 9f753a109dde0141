using System.Runtime.Versioning;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.RealPeers;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Net;
using SmtpLens.Probe;
using SmtpLens.StateMachine;
using SmtpLens.Transcripts;

namespace SmtpLens.IntegrationTests.Probe;

/// <summary><c>smtplens probe</c> against private Postfix smtpd instances on loopback, each configured as one
/// real-world case: healthy STARTTLS, STARTTLS discarded from EHLO, an expired certificate, a wildcard
/// certificate, and TLS required by the server.</summary>
[SupportedOSPlatform("linux")]
public sealed class ProbeRealPeerTests : IDisposable
{
    private const string MxName = "mx.probe.test";
    private readonly TlsTestPki _pki = new();
    private readonly List<ProbeCertificateFiles> _files = [];

    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Dispose();
        }

        _pki.Dispose();
    }

    [Fact]
    public async Task Probe_Postfix_With_StartTls_Records_Handshake_And_Keywords_Inside_Tls()
    {
        await using var postfix = await StartAsync("starttls", Certificate(MxName, [MxName]));
        var host = await ProbeAsync(postfix, new ProbeOptions { ServerName = MxName });
        var main = host.Main;

        Assert.Null(main.Error);
        Assert.Equal($"220 {MxName} ESMTP Postfix", main.Banner!.RawLines[0]);
        Assert.True(main.StartTlsOffered);
        Assert.Equal(220, main.StartTlsReply!.Code);
        var tls = main.Tls!;
        Assert.True(tls.Completed, tls.Failure);
        Assert.Equal(0x0304, tls.Version);
        Assert.Equal($"CN={MxName}", tls.ServerCertificates[0].Subject);
        Assert.True(tls.NameMatches);
        Assert.False(tls.ChainTrusted);
        Assert.Equal(MxName, tls.ClientHello!.ServerName);

        // Postfix advertises STARTTLS only in plaintext; everything else is the same inside TLS.
        Assert.False(main.EhloInTls!.Has("STARTTLS"));
        Assert.Equal(["STARTTLS"], main.KeywordChanges.OnlyBefore.Select(k => k.Keyword));
        Assert.Empty(main.KeywordChanges.HiddenFromPlaintext);
        Assert.Null(main.TlsRequirementCheck);
        Assert.Equal(221, main.QuitReply!.Code);
        Assert.Equal(SessionEndReason.Quit, main.End);

        // The transcript is the proxy's: commands, replies, EHLO keywords, the TLS leg, the summary. No MAIL.
        var kinds = main.Events.Select(e => e.Kind).ToList();
        Assert.Equal(2, main.Events.Count(e => e.Kind == EventKinds.Ehlo));
        Assert.Contains(EventKinds.StartTls, kinds);
        Assert.Contains(main.Events, e => e.Kind == EventKinds.TlsHandshake && e.Text.StartsWith("upstream leg: TLSv1.3", StringComparison.Ordinal));
        Assert.Contains(EventKinds.TlsCertificate, kinds);
        Assert.Equal(EventKinds.Summary, kinds[^1]);
        Assert.DoesNotContain(main.Events, e => e.Kind == EventKinds.Command && e.Text.StartsWith("MAIL", StringComparison.Ordinal));
        Assert.Equal(["EHLO", "STARTTLS", "EHLO", "QUIT"], main.Events.Where(e => e.Kind == EventKinds.Command).Select(e => e.Text.Split(' ')[0]));
        await postfix.WaitForLogLinesAsync("TLS connection established from unknown[127.0.0.1]");

        // A healthy server: the run-time test CA is not in the system store, and that is all.
        Assert.Equal([FindingCodes.CertUntrusted], Codes(main));
        Assert.Contains(main.Events, e => e.Kind == FindingEngine.EventKind && e.Text.Contains(FindingCodes.CertUntrusted, StringComparison.Ordinal));
        Assert.Equal(FindingEngine.Analyze(main.Events).Select(f => f.Signature), main.Findings.Select(f => f.Signature));
    }

    [Fact]
    public async Task Probe_Postfix_Discarding_StartTls_Keyword_Skips_Tls_Unless_Forced()
    {
        await using var postfix = await StartAsync("discard", Certificate(MxName, [MxName]), new() { ["smtpd_discard_ehlo_keywords"] = "starttls" });
        var plain = (await ProbeAsync(postfix, new ProbeOptions())).Main;
        Assert.Null(plain.Error);
        Assert.False(plain.StartTlsOffered);
        Assert.False(plain.StartTlsAttempted);
        Assert.Null(plain.Tls);
        Assert.Null(plain.TlsRequirementCheck);
        Assert.Equal(221, plain.QuitReply!.Code);

        // The probe quits right after EHLO, as a sender that requires TLS does: a warning.
        var notOffered = Assert.Single(plain.Findings, f => f.Code == FindingCodes.StartTlsNotOffered);
        Assert.Equal(FindingSeverity.Warning, notOffered.Severity);
        Assert.DoesNotContain(FindingCodes.TlsRequiredNotStarted, Codes(plain));

        // --force-starttls asks anyway. Postfix disables the discarded command too (a masking firewall would not),
        // so the answer is a refusal and the probe carries on in plaintext.
        var forced = (await ProbeAsync(postfix, new ProbeOptions { StartTls = StartTlsMode.Always, ServerName = MxName })).Main;
        Assert.Null(forced.Error);
        Assert.True(forced.StartTlsAttempted);
        Assert.Equal("502 5.5.1 Error: command not implemented", forced.StartTlsReply!.RawLines[^1]);
        Assert.Null(forced.Tls);
        Assert.Equal(221, forced.QuitReply!.Code);
    }

    [Fact]
    public async Task Probe_Postfix_With_Expired_Certificate_Records_Its_Validity()
    {
        var now = DateTimeOffset.UtcNow;
        await using var postfix = await StartAsync("expired", Certificate(MxName, [MxName], now.AddDays(-60), now.AddDays(-1)));
        var main = (await ProbeAsync(postfix, new ProbeOptions { ServerName = MxName })).Main;
        var leaf = main.Tls!.ServerCertificates[0];
        Assert.True(main.Tls.Completed, main.Tls.Failure);
        Assert.True(leaf.NotAfter < now);
        Assert.Contains("NotTimeValid", main.Tls.ChainStatus, StringComparison.Ordinal);
        Assert.Contains(FindingCodes.CertExpired, Codes(main));
        Assert.DoesNotContain(FindingCodes.CertWildcard, Codes(main));

        // The saved .jsonl, read back and analyzed as 'smtplens analyze' does, gives the same findings.
        var directory = Directory.CreateTempSubdirectory("smtplens-probe-tx-").FullName;
        try
        {
            var saved = (await ProbeAsync(postfix, new ProbeOptions { ServerName = MxName, Transcripts = new TranscriptOptions { Directory = directory } })).Main;
            var events = JsonLinesTranscriptReader.Read(Path.Combine(directory, saved.SessionId + ".jsonl"));
            Assert.Equal(saved.Findings.Select(f => f.Signature), FindingEngine.Analyze(events).Select(f => f.Signature));
            Assert.Contains(saved.Findings, f => f.Code == FindingCodes.CertExpired);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Probe_Postfix_With_Wildcard_Certificate_Matches_Through_The_Wildcard()
    {
        await using var postfix = await StartAsync("wildcard", Certificate("*.probe.test", ["*.probe.test"]));
        var main = (await ProbeAsync(postfix, new ProbeOptions { ServerName = MxName })).Main;
        Assert.True(main.Tls!.Completed, main.Tls.Failure);
        Assert.True(main.Tls.ServerCertificates[0].HasWildcard);
        Assert.True(main.Tls.NameMatches);
        Assert.Contains(FindingCodes.CertWildcard, Codes(main));
        Assert.DoesNotContain(FindingCodes.CertNameMismatch, Codes(main));
    }

    [Fact]
    public async Task Probe_Without_StartTls_To_Postfix_Requiring_Tls_Gets_530_To_Vrfy()
    {
        await using var postfix = await StartAsync("encrypt", Certificate(MxName, [MxName]), new() { ["smtpd_tls_security_level"] = "encrypt" });
        var main = (await ProbeAsync(postfix, new ProbeOptions { StartTls = StartTlsMode.Never })).Main;
        Assert.Null(main.Error);
        Assert.True(main.StartTlsOffered);
        Assert.Null(main.Tls);
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", main.TlsRequirementCheck!.RawLines[^1]);
        Assert.Equal(221, main.QuitReply!.Code);
        var finding = Assert.Single(main.Findings, f => f.Code == FindingCodes.TlsRequiredNotStarted);
        Assert.Contains("530 5.7.0 Must issue a STARTTLS command first", finding.Title, StringComparison.Ordinal);
        Assert.Contains(finding.Evidence, e => e.Text == "C: VRFY postmaster");
    }

    private static List<string> Codes(ProbeSession session) => [.. session.Findings.Select(f => f.Code)];

    private ProbeCertificateFiles Certificate(string cn, IReadOnlyList<string> names, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var files = ProbeCertificateFiles.Write(_pki, cn, names, notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30));
        _files.Add(files);
        return files;
    }

    /// <summary>The server calls itself mx.probe.test, as a real MX names itself after its certificate, so a
    /// certificate for that name draws no CERT_NAME_MISMATCH from the banner or EHLO name.</summary>
    private static Task<PostfixInstance> StartAsync(string name, ProbeCertificateFiles certificate, Dictionary<string, string>? mainCf = null)
    {
        var settings = new Dictionary<string, string> { ["myhostname"] = MxName, ["smtpd_banner"] = "$myhostname ESMTP Postfix" };
        foreach (var (key, value) in mainCf ?? [])
        {
            settings[key] = value;
        }

        return PostfixInstance.StartAsync(new PostfixOptions
        {
            Name = name,
            TlsCertificateFile = certificate.CertificateFile,
            TlsKeyFile = certificate.KeyFile,
            MainCf = settings,
        });
    }

    private static Task<HostProbe> ProbeAsync(PostfixInstance postfix, ProbeOptions options) =>
        new SmtpProbe(options with { EhloName = "probe.client.test", Timeout = TimeSpan.FromSeconds(20) }, TimeProvider.System)
            .ProbeHostAsync(new HostPort(postfix.Host, postfix.Port), null, CancellationToken.None);
}
