using SmtpLens.Findings;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Findings;

/// <summary>Negative cases for every detector at once: healthy sessions as Postfix, Exim and Exchange/EOP
/// write them raise no warning or error, in any feed mode.</summary>
public sealed class HealthyDialogueFindingTests
{
    public static TheoryData<string, FeedMode> PlaintextDialogues()
    {
        var data = new TheoryData<string, FeedMode>();
        foreach (var name in DialogueScript.EmbeddedNames().Where(n => n != "exchange-eop-seed000"))
        {
            foreach (var mode in DialogueReplayer.AllModes)
            {
                data.Add(name, mode);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PlaintextDialogues))]
    public void RecordedDialogue_AnyMode_RaisesNoWarning(string name, FeedMode mode)
    {
        var session = new SessionEvents().Smtp(Text(name), mode: mode).Disconnect();

        var findings = session.Findings;

        Assert.DoesNotContain(findings, f => f.Severity >= FindingSeverity.Warning);
    }

    [Fact]
    public void PostfixWithStartTls_RaisesNothing()
    {
        var findings = HealthyDialogues.Tls(HealthyDialogues.PostfixBeforeTls, HealthyDialogues.PostfixInsideTls, "mx.example.org", ["mx.example.org"]).Findings;

        Assert.Empty(findings);
    }

    [Fact]
    public void ExchangeOnPremisesWithStartTlsAndBdat_RaisesNothing()
    {
        var findings = HealthyDialogues.Tls(HealthyDialogues.ExchangeBeforeTls, HealthyDialogues.ExchangeInsideTls, "mail.contoso.com", ["mail.contoso.com", "autodiscover.contoso.com"]).Findings;

        Assert.Empty(findings);
    }

    [Fact]
    public void EopWithStartTls_RaisesOnlyTheWildcardInfo()
    {
        var findings = HealthyDialogues.Tls(HealthyDialogues.EopBeforeTls, HealthyDialogues.EopInsideTls, "contoso-com.mail.protection.outlook.com", ["mail.protection.outlook.com", "*.mail.protection.outlook.com", "*.mx.microsoft"]).Findings;

        var only = Assert.Single(findings);
        Assert.Equal(FindingCodes.CertWildcard, only.Code);
        Assert.Equal(FindingSeverity.Info, only.Severity);
    }

    [Fact]
    public void EximWithoutTlsDeliveringMail_ReportsMissingStartTlsAsInfoOnly()
    {
        var findings = new SessionEvents().Smtp(Text("exim")).Disconnect().Findings;

        var only = Assert.Single(findings);
        Assert.Equal(FindingCodes.StartTlsNotOffered, only.Code);
        Assert.Equal(FindingSeverity.Info, only.Severity);
    }

    internal static string Text(string embeddedName)
    {
        using var stream = typeof(DialogueScript).Assembly.GetManifestResourceStream($"SmtpLens.Tests.Dialogues.{embeddedName}.txt")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
