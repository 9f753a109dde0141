using SmtpLens.Findings;

namespace SmtpLens.Tests.Findings;

/// <summary>The README's findings reference documents every code exactly as the catalog explains it.</summary>
public sealed class FindingsReferenceTests
{
    [Fact]
    public void Readme_DocumentsEveryCode_WithSeverityExampleCausesAndNextStep()
    {
        var readme = File.ReadAllText(FindReadme());
        var reference = readme[readme.IndexOf("### Findings reference", StringComparison.Ordinal)..];

        Assert.All(FindingCatalog.All, d =>
        {
            var heading = $"#### `{d.Code}`";
            Assert.Contains(heading, reference, StringComparison.Ordinal);
            var section = reference[reference.IndexOf(heading, StringComparison.Ordinal)..];
            section = section[..(section.IndexOf("\n#### ", heading.Length, StringComparison.Ordinal) is var end and > 0 ? end : section.Length)];
            Assert.Contains($"**{Finding.SeverityName(d.Severity)}**. {d.Explanation}", section, StringComparison.Ordinal);
            Assert.Contains(d.Example, section, StringComparison.Ordinal);
            Assert.All(d.Causes, c => Assert.Contains("- " + c, section, StringComparison.Ordinal));
            Assert.Contains("Next step: " + d.NextStep, section, StringComparison.Ordinal);
        });
    }

    private static string FindReadme()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "README.md");
            if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "SmtpLens.sln")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("README.md above the test directory");
    }
}
