using System.Net;
using System.Text;
using SmtpLens.Findings;
using SmtpLens.Net;
using SmtpLens.Net.Resolver;
using SmtpLens.Policy;
using SmtpLens.Probe;
using SmtpLens.Protocol;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Probe;

/// <summary>What <c>probe --mx</c> compares between a domain's MX addresses, and when that is MX_TLS_INCONSISTENT.</summary>
public sealed class MxComparisonTests
{
    private static readonly string Fingerprint1 = new('A', 64);
    private static readonly string Fingerprint2 = new('B', 64);

    [Fact]
    public void Compare_Same_Tls_Everywhere_Raises_Nothing()
    {
        var comparison = MxComparison.Compare("example.com", [Probe("mx1.example.com", "192.0.2.1"), Probe("mx1.example.com", "192.0.2.2")], implicitTls: false);
        Assert.Null(comparison.Finding);
        Assert.Equal(2, comparison.Answered);
        Assert.Equal(1, comparison.Hosts);
        Assert.DoesNotContain(comparison.Aspects, a => a.Differs);
        Assert.Contains(comparison.Aspects, a => a.Name == "STARTTLS" && a.Groups.Single().Value == "offered");
    }

    [Fact]
    public void Compare_One_Address_Without_StartTls_Is_A_Warning_Naming_The_Addresses()
    {
        var comparison = MxComparison.Compare("example.com", [Probe("mx1.example.com", "192.0.2.1"), Probe("mx1.example.com", "192.0.2.2", startTls: false), Probe("mx2.example.com", "192.0.2.3")], implicitTls: false);
        var finding = Assert.IsType<Finding>(comparison.Finding);
        Assert.Equal(FindingCodes.MxTlsInconsistent, finding.Code);
        Assert.Equal(FindingSeverity.Warning, finding.Severity);
        Assert.StartsWith("example.com's MX addresses differ: STARTTLS offered at mx1.example.com[192.0.2.1], mx2.example.com[192.0.2.3], NOT offered at mx1.example.com[192.0.2.2]; ", finding.Title, StringComparison.Ordinal);
        Assert.EndsWith("; 2 policy verdicts differ (postfix:encrypt, postfix:verify)", finding.Title, StringComparison.Ordinal);
        var starttls = comparison.Aspects.Single(a => a.Name == "STARTTLS");
        Assert.True(starttls.WithinHost);
        Assert.Equal(["mx1.example.com[192.0.2.2]"], starttls.Groups.Single(g => g.Value == "NOT offered").Addresses);
        Assert.Equal(3, finding.Evidence.Count);
        Assert.Contains(finding.Evidence, e => e.Text.StartsWith("mx1.example.com[192.0.2.2] (session s-192.0.2.2): STARTTLS NOT offered; no TLS", StringComparison.Ordinal));
    }

    [Fact]
    public void Compare_Different_Certificates_On_Different_Hosts_Are_Listed_But_Raise_Nothing()
    {
        var comparison = MxComparison.Compare("example.com", [Probe("mx1.example.com", "192.0.2.1"), Probe("mx2.example.com", "192.0.2.3", fingerprint: Fingerprint2)], implicitTls: false);
        Assert.Null(comparison.Finding);
        var certificate = comparison.Aspects.Single(a => a.Name == "certificate");
        Assert.True(certificate.Differs);
        Assert.False(certificate.WithinHost);
        Assert.False(certificate.Decisive);
    }

    [Fact]
    public void Compare_Different_Certificates_Behind_One_Name_Are_Info()
    {
        var comparison = MxComparison.Compare("example.com", [Probe("mx1.example.com", "192.0.2.1"), Probe("mx1.example.com", "2001:db8::1", fingerprint: Fingerprint2)], implicitTls: false);
        var finding = Assert.IsType<Finding>(comparison.Finding);
        Assert.Equal(FindingSeverity.Info, finding.Severity);
        Assert.Contains("certificate sha256 AAAAAAAAAAAAAAAA CN=mx1.example.com at mx1.example.com[192.0.2.1], sha256 BBBBBBBBBBBBBBBB CN=mx1.example.com at mx1.example.com[2001:db8::1]", finding.Title, StringComparison.Ordinal);
    }

    [Fact]
    public void Compare_An_Untrusted_Chain_On_One_Address_Is_A_Warning_Even_With_StartTls_Everywhere()
    {
        var comparison = MxComparison.Compare("example.com", [Probe("mx1.example.com", "192.0.2.1"), Probe("mx1.example.com", "192.0.2.2", trusted: false, verifyPasses: false)], implicitTls: false);
        var finding = Assert.IsType<Finding>(comparison.Finding);
        Assert.Equal(FindingSeverity.Warning, finding.Severity);
        Assert.Contains("trust chain trusted at mx1.example.com[192.0.2.1], chain NOT trusted at mx1.example.com[192.0.2.2]", finding.Title, StringComparison.Ordinal);
        Assert.EndsWith("; 1 policy verdict differs (postfix:verify)", finding.Title, StringComparison.Ordinal);
        Assert.DoesNotContain(comparison.Aspects, a => a.Name == "STARTTLS" && a.Differs);
    }

    [Fact]
    public void Compare_Needs_Two_Answering_Addresses_And_Lists_The_Unreached()
    {
        var refused = new ProbeSession("s-x", new HostPort("mx2.example.com", 25), null) { Error = "cannot connect: ConnectionRefused: Connection refused" };
        var comparison = MxComparison.Compare("example.com", [Probe("mx1.example.com", "192.0.2.1"), new HostProbe(refused.Target, "mx2.example.com", refused, []) { Address = IPAddress.Parse("192.0.2.9") }], implicitTls: false);
        Assert.Null(comparison.Finding);
        Assert.Empty(comparison.Aspects);
        Assert.Equal(["mx2.example.com[192.0.2.9]: cannot connect: ConnectionRefused: Connection refused"], comparison.NotReached);
    }

    [Fact]
    public void ProbeRun_Exit_Code_Counts_The_Domain_Finding()
    {
        var consistent = new[] { Probe("mx1.example.com", "192.0.2.1"), Probe("mx1.example.com", "192.0.2.2") };
        var intermittent = new[] { Probe("mx1.example.com", "192.0.2.1"), Probe("mx1.example.com", "192.0.2.2", startTls: false) };
        Assert.Equal(0, new ProbeRun(null, [], consistent, MxComparison.Compare("example.com", consistent, false)).ExitCode);
        var run = new ProbeRun(null, [], intermittent, MxComparison.Compare("example.com", intermittent, false));
        Assert.Equal(1, run.ExitCode);
        Assert.Equal(FindingCodes.MxTlsInconsistent, Assert.Single(run.Counted).Code);
    }

    [Fact]
    public void Run_Report_Prints_Per_Address_Lines_Per_Host_Verdicts_And_The_Comparison()
    {
        var probes = new[] { Probe("mx1.example.com", "192.0.2.1"), Probe("mx1.example.com", "192.0.2.2", startTls: false) };
        var lookup = new MxLookup("example.com", new IPEndPoint(IPAddress.Loopback, 53), [new MxRecord(10, "mx1.example.com")], false, null);
        var resolved = new HostAddresses("mx1.example.com", lookup.Server, [IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2")], null);
        var text = ProbeRunReport.Write(new ProbeRun(lookup, [resolved], probes, MxComparison.Compare("example.com", probes, false)));
        var lines = text.Split('\n');
        Assert.Contains("  mx1.example.com: A 192.0.2.1, 192.0.2.2; AAAA none", lines);
        Assert.Contains("probe mx1.example.com:25 (MX mx1.example.com) at 192.0.2.2", lines);
        Assert.Contains("    192.0.2.1:25  STARTTLS offered; TLSv1.3, sha256 AAAAAAAAAAAAAAAA CN=mx1.example.com, name matches, trusted; enforced: not tested", lines);
        Assert.Contains("    192.0.2.2:25  STARTTLS NOT offered; no TLS; enforced: not tested", lines);
        Assert.Contains("    policy postfix:encrypt  DIFFERS: FAIL at 192.0.2.2:25: STARTTLS not offered; PASS at 192.0.2.1:25: TLS established", lines);
        Assert.Contains("    policy postfix:verify   DIFFERS: FAIL at 192.0.2.2:25: not verified; PASS at 192.0.2.1:25: verified", lines);
        Assert.Contains(lines, l => l.StartsWith("  WARNING  MX_TLS_INCONSISTENT: example.com's MX addresses differ: STARTTLS ", StringComparison.Ordinal));
        Assert.Equal("result: 1 warning; exit 1 (warning or above found)", lines.Single(l => l.StartsWith("result: ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("530 5.7.0 Must issue a STARTTLS command first", "yes")]
    [InlineData("554 5.7.0 STARTTLS required", "yes")]
    [InlineData("252 2.0.0 postmaster", "no")]
    [InlineData("502 5.5.1 VRFY command is disabled", "unknown")]
    public void StartTlsEnforcement_Reads_The_Vrfy_Reply(string reply, string expected)
    {
        var session = new ProbeSession("s", new HostPort("mx", 25), null) { HelloReply = Reply("250 mx"), TlsRequirementCheck = Reply(reply) };
        var enforcement = StartTlsEnforcement.Of(session, implicitTls: false);
        Assert.Equal(expected, enforcement.Value);
        Assert.Contains(reply, enforcement.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void StartTlsEnforcement_Is_Not_Tested_Without_No_StartTls_Or_With_Implicit_Tls()
    {
        var session = new ProbeSession("s", new HostPort("mx", 25), null) { HelloReply = Reply("250 mx") };
        Assert.Equal("STARTTLS enforced: not tested (run with --no-starttls: the probe then sends VRFY before TLS, never MAIL)", StartTlsEnforcement.Of(session, false).Line());
        Assert.Equal(StartTlsEnforcement.NotTested, StartTlsEnforcement.Of(session, true).Value);
        Assert.Contains("implicit TLS", StartTlsEnforcement.Of(session, true).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddressResolver_Returns_A_Then_Aaaa_In_Byte_Order_From_The_Given_Server()
    {
        using var dns = LoopbackDns.Start()
            .AddAddress("mx.example.com", IPAddress.Parse("192.0.2.20")).AddAddress("mx.example.com", IPAddress.Parse("2001:db8::1"))
            .AddAddress("mx.example.com", IPAddress.Parse("192.0.2.3"));
        var resolved = await AddressResolver.LookupAsync("mx.example.com", dns.EndPoint, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        Assert.Null(resolved.Problem);
        Assert.Equal(["192.0.2.3", "192.0.2.20", "2001:db8::1"], resolved.Addresses.Select(a => a.ToString()));
        Assert.Equal("A 192.0.2.3, 192.0.2.20; AAAA 2001:db8::1", resolved.Describe());
        Assert.Equal([LoopbackDns.A, LoopbackDns.Aaaa], dns.Questions.Select(q => q.Type).Distinct());

        var gone = await AddressResolver.LookupAsync("gone.example.com", dns.EndPoint, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        Assert.Empty(gone.Addresses);
        Assert.Equal($"gone.example.com: A answered NXDOMAIN; AAAA answered NXDOMAIN (asked {dns.EndPoint})", gone.Problem);

        var literal = await AddressResolver.LookupAsync("192.0.2.7", dns.EndPoint, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        Assert.Equal([IPAddress.Parse("192.0.2.7")], literal.Addresses);
    }

    /// <summary>One answering address; by default it offers STARTTLS and a trusted certificate naming the host.</summary>
    private static HostProbe Probe(string host, string address, bool startTls = true, string? fingerprint = null, bool trusted = true, bool verifyPasses = true)
    {
        var target = new HostPort(host, 25);
        var main = new ProbeSession($"s-{address}", target, null)
        {
            RemoteEndPoint = new IPEndPoint(IPAddress.Parse(address), 25).ToString(),
            Banner = Reply($"220 {host} ESMTP"),
            HelloReply = startTls ? Reply($"250-{host}", "250 STARTTLS") : Reply($"250 {host}"),
        };
        main.EhloBeforeTls = EhloReply.From(main.HelloReply);
        if (startTls)
        {
            var leg = new TlsLegRecord("upstream", "client") { Completed = true, Version = 0x0304, CipherSuite = 0x1301, NameChecked = host, NameMatches = true, ChainTrusted = trusted };
            leg.ServerCertificates.Add(ProbeEvents.Certificate(host, host) with { Sha256Fingerprint = fingerprint ?? Fingerprint1 });
            main.StartTlsAttempted = true;
            main.Tls = leg;
        }

        var none = new Dictionary<string, object?>();
        return new HostProbe(target, host, main, [])
        {
            Address = IPAddress.Parse(address),
            Verdicts =
            [
                new PolicyVerdict(PolicyIds.PostfixEncrypt, startTls ? Verdict.Pass : Verdict.Fail, startTls ? "TLS established" : "STARTTLS not offered", none),
                new PolicyVerdict(PolicyIds.PostfixVerify, startTls && verifyPasses ? Verdict.Pass : Verdict.Fail, startTls && verifyPasses ? "verified" : "not verified", none),
            ],
        };
    }

    private static SmtpReply Reply(params string[] raw) =>
        new([.. raw.Select(r => ReplyLine.TryParse(Encoding.ASCII.GetBytes(r), out var l) ? l : throw new FormatException(r))], raw);
}
