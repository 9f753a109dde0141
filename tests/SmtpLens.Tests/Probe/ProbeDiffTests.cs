using System.Text.Json;
using SmtpLens.Findings;
using SmtpLens.Probe.Diff;

namespace SmtpLens.Tests.Probe;

/// <summary><c>smtplens diff</c>: the keyword table, EHLO_KEYWORD_STRIPPED, and its two outputs.</summary>
public sealed class ProbeDiffTests
{
    private static readonly string[] Inside = ["PIPELINING", "SIZE 37748736", "DSN", "ENHANCEDSTATUSCODES", "STARTTLS", "8BITMIME", "BINARYMIME", "CHUNKING"];

    [Fact]
    public void Identical_Dialogues_Give_No_Findings_And_Exit_0()
    {
        var diff = ProbeDiff.Compare(Snapshot("A", Server("220 mx.example.test ESMTP", Inside)), Snapshot("B", Server("220 mx.example.test ESMTP", Inside)));
        Assert.All(diff.Keywords, r => Assert.Equal(KeywordChange.Same, r.Change));
        Assert.False(diff.BannerDiffers);
        Assert.Empty(diff.Findings);
        Assert.Equal(0, diff.ExitCode);
    }

    [Fact]
    public void Cisco_Masking_Behind_The_Firewall_Is_Masked_Not_Removed()
    {
        // Outside the firewall: ESMTP inspection masks the banner and writes XXXXXXXA over STARTTLS.
        string[] outside = ["PIPELINING", "SIZE 37748736", "DSN", "ENHANCEDSTATUSCODES", "XXXXXXXA", "8BITMIME", "BINARYMIME"];
        var diff = ProbeDiff.Compare(Snapshot("inside", Server("220 mx.example.test ESMTP", Inside)), Snapshot("outside", Server("220 ****************************2*0***0****", outside)));

        Assert.True(diff.BannerMaskedInB);
        Assert.Equal(KeywordChange.Masked, diff.Keywords.Single(r => r.Keyword == "STARTTLS").Change);
        Assert.Equal("XXXXXXXA", diff.Keywords.Single(r => r.Keyword == "STARTTLS").B!.Keyword);
        Assert.Equal(KeywordChange.Removed, diff.Keywords.Single(r => r.Keyword == "CHUNKING").Change);
        Assert.DoesNotContain(diff.Keywords, r => r.Change == KeywordChange.Added);

        Assert.Equal(["STARTTLS is offered in A and masked as XXXXXXXA in B", "CHUNKING is offered in A and absent in B"], diff.Findings.Select(f => f.Title));
        Assert.All(diff.Findings, f =>
        {
            Assert.Equal(FindingCodes.EhloKeywordStripped, f.Code);
            Assert.Equal(FindingSeverity.Warning, f.Severity);
            Assert.Contains("receive connectors", f.Explanation, StringComparison.Ordinal);
            Assert.Contains("legitimately", f.Explanation, StringComparison.Ordinal);
            Assert.Equal("s-outside", f.Session);
        });
        Assert.StartsWith("B shows XXXXXXXA where A shows STARTTLS", diff.Findings[0].Causes[0], StringComparison.Ordinal);
        Assert.Equal(1, diff.ExitCode);
    }

    [Fact]
    public void Added_Keywords_And_Different_Parameters_Are_Shown_But_Raise_Nothing()
    {
        var diff = ProbeDiff.Compare(
            Snapshot("port25", Server("220 mx.example.test ESMTP", "PIPELINING", "SIZE 10240000", "STARTTLS")),
            Snapshot("port587", Server("220 mx.example.test ESMTP", "PIPELINING", "SIZE 52428800", "STARTTLS", "AUTH PLAIN LOGIN")));
        Assert.Equal(KeywordChange.ParametersDiffer, diff.Keywords.Single(r => r.Keyword == "SIZE").Change);
        Assert.Equal(KeywordChange.Added, diff.Keywords.Single(r => r.Keyword == "AUTH").Change);
        Assert.Empty(diff.Findings);
    }

    [Fact]
    public void A_Different_Server_Name_Leads_The_Causes_With_The_Legitimate_Explanation()
    {
        var diff = ProbeDiff.Compare(Snapshot("A", Server("220 edge1.example.test ESMTP", "STARTTLS", "CHUNKING")), Snapshot("B", Server("220 edge2.example.test ESMTP", "STARTTLS", host: "edge2.example.test")));
        var finding = Assert.Single(diff.Findings);
        Assert.StartsWith("The EHLO replies name different servers (mx.example.test in A, edge2.example.test in B)", finding.Causes[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Keywords_Inside_Tls_Are_Compared_Separately()
    {
        var a = new ProbeEvents("s-a").Server("220 mx.example.test ESMTP").Ehlo("mx.example.test", "PIPELINING", "STARTTLS")
            .Client("STARTTLS").Server("220 2.0.0 go ahead").Tls(ProbeEvents.Certificate("mx.example.test", "mx.example.test"))
            .Ehlo("mx.example.test", "PIPELINING", "AUTH PLAIN", "CHUNKING").Disconnect();
        var b = new ProbeEvents("s-b").Server("220 mx.example.test ESMTP").Ehlo("mx.example.test", "PIPELINING", "STARTTLS")
            .Client("STARTTLS").Server("220 2.0.0 go ahead").Tls(ProbeEvents.Certificate("mx.example.test", "mx.example.test"))
            .Ehlo("mx.example.test", "PIPELINING", "CHUNKING").Disconnect();
        var diff = ProbeDiff.Compare(DialogueSnapshot.FromEvents("a", a.Events), DialogueSnapshot.FromEvents("b", b.Events));
        Assert.All(diff.Keywords, r => Assert.Equal(KeywordChange.Same, r.Change));
        Assert.Equal("AUTH is offered in A and absent in B inside TLS", Assert.Single(diff.Findings).Title);
        Assert.Equal("TLSv1.2", diff.A.Tls!["version"]);
    }

    [Fact]
    public void Text_Report_Shows_Both_Sides_And_The_Marks()
    {
        string[] outside = ["PIPELINING", "SIZE 37748736", "DSN", "ENHANCEDSTATUSCODES", "XXXXXXXA", "8BITMIME", "BINARYMIME", "SMTPUTF8"];
        var text = DiffReport.Text(ProbeDiff.Compare(Snapshot("inside.json", Server("220 mx.example.test ESMTP", Inside)), Snapshot("outside.json", Server("220 mx.example.test ESMTP", outside))));
        var lines = text.Split('\n');
        Assert.StartsWith("A = inside.json, session s-inside.json", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("  STARTTLS ", StringComparison.Ordinal) && l.Contains("XXXXXXXA", StringComparison.Ordinal) && l.EndsWith("MASKED in B", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  CHUNKING ", StringComparison.Ordinal) && l.EndsWith("REMOVED in B", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  - ", StringComparison.Ordinal) && l.Contains("SMTPUTF8", StringComparison.Ordinal) && l.EndsWith("added in B", StringComparison.Ordinal));
        Assert.Contains("  A  no TLS", text, StringComparison.Ordinal);
        Assert.Contains("WARNING  EHLO_KEYWORD_STRIPPED: STARTTLS is offered in A and masked as XXXXXXXA in B", text, StringComparison.Ordinal);
        Assert.EndsWith("result: 2 warnings; exit 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_Report_Carries_Rows_Findings_And_Exit_Code()
    {
        var diff = ProbeDiff.Compare(Snapshot("A", Server("220 mx.example.test ESMTP", Inside)), Snapshot("B", Server("220 mx.example.test ESMTP", "PIPELINING")));
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            DiffReport.Json(writer, diff);
        }

        using var doc = JsonDocument.Parse(buffer.ToArray());
        var root = doc.RootElement;
        Assert.Equal(1, root.GetProperty("exitCode").GetInt32());
        Assert.Equal("removed", root.GetProperty("keywords").EnumerateArray().Single(r => r.GetProperty("keyword").GetString() == "STARTTLS").GetProperty("change").GetString());
        Assert.Equal(Inside.Length - 1, root.GetProperty("findings").GetArrayLength());
        Assert.All(root.GetProperty("findings").EnumerateArray(), f => Assert.Equal("EHLO_KEYWORD_STRIPPED", f.GetProperty("code").GetString()));
        Assert.Equal("mx.example.test", root.GetProperty("b").GetProperty("ehloDomain").GetString());
    }

    private static ProbeEvents Server(string banner, params string[] keywords) => Server(banner, keywords, "mx.example.test");

    private static ProbeEvents Server(string banner, string first, string? second = null, string host = "mx.example.test") =>
        Server(banner, second is null ? [first] : [first, second], host);

    private static ProbeEvents Server(string banner, string[] keywords, string host)
    {
        var events = new ProbeEvents("pending").Server(banner).Ehlo(host, keywords);
        events.Client("QUIT").Server("221 2.0.0 Bye").Disconnect();
        return events;
    }

    private static DialogueSnapshot Snapshot(string label, ProbeEvents events) =>
        DialogueSnapshot.FromEvents(label, [.. events.Events.Select(e => e with { Session = "s-" + label })]);
}
