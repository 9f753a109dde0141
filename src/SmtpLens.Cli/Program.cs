using System.CommandLine;
using SmtpLens.Cli;
using SmtpLens.Cli.Commands;

var root = new RootCommand("SmtpLens: a transparent SMTP inspection proxy for mail-flow incidents.\n" + ExitCodes.HelpText)
{
    ProxyCommand.Create(),
    AnalyzeCommand.Create(),
    LabCommand.Create(),
    CaCommand.Create(),
    ProbeCommand.Create(),
    DiffCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
