using System.CommandLine;
using SmtpLens.Cli.Commands;

namespace SmtpLens.Cli;

/// <summary>The <c>smtplens</c> command line: every verb, as Program runs it and as the docs tests parse it.</summary>
internal static class SmtpLensCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("SmtpLens: a transparent SMTP inspection proxy for mail-flow incidents.")
        {
            ProxyCommand.Create(),
            AnalyzeCommand.Create(),
            ConnectorsCommand.Create(),
            LabCommand.Create(),
            CaCommand.Create(),
            ProbeCommand.Create(),
            DiffCommand.Create(),
            ReportCommand.Create(),
            TlsRptCommand.Create(),
            PcapCommand.Create(),
        };
        CommandHelp.Install(root);
        return root;
    }
}
