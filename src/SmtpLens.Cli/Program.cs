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

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // System.CommandLine would exit 1, which our scripts read as "checks failed"; a typo is a usage error.
    foreach (var error in parsed.Errors)
    {
        await Console.Error.WriteLineAsync($"smtplens: {error.Message}");
    }

    await Console.Error.WriteLineAsync("Run 'smtplens --help' or 'smtplens <command> --help' for the options.");
    return ExitCodes.Usage;
}

return await parsed.InvokeAsync();
