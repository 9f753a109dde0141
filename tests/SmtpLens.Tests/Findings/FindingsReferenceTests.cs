using SmtpLens.Findings;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Findings;

/// <summary>docs/findings.md documents every code exactly as the catalog explains it.</summary>
public sealed class FindingsReferenceTests
{
    [Fact]
    public void FindingsDoc_DocumentsEveryCode_WithSeverityExampleCausesAndNextStep()
    {
        var doc = File.ReadAllText(SourceTree.PathOf("docs", "findings.md"));
        var reference = doc[doc.IndexOf("## Findings reference", StringComparison.Ordinal)..];

        Assert.All(FindingCatalog.All, d =>
        {
            var heading = $"### `{d.Code}`";
            Assert.Contains(heading, reference, StringComparison.Ordinal);
            var section = reference[reference.IndexOf(heading, StringComparison.Ordinal)..];
            section = section[..(section.IndexOf("\n### ", heading.Length, StringComparison.Ordinal) is var end and > 0 ? end : section.Length)];
            Assert.Contains($"**{Finding.SeverityName(d.Severity)}**. {d.Explanation}", section, StringComparison.Ordinal);
            Assert.Contains(d.Example, section, StringComparison.Ordinal);
            Assert.All(d.Causes, c => Assert.Contains("- " + c, section, StringComparison.Ordinal));
            Assert.Contains("Next step: " + d.NextStep, section, StringComparison.Ordinal);
        });
    }
}
