using System.CommandLine;
using SmtpLens.Cli;
using SmtpLens.Cli.Commands;
using SmtpLens.IO;

// Relaying is many small reads. Running socket completions on the runtime's event threads, instead of queuing
// each one to the thread pool, cuts SmtpLens's CPU per message by about a third and its thread switches
// tenfold (bench/README.md); code that may block hops off first (ThreadPoolHop). Must be set before the
// first socket exists. DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 restores the runtime's default.
if (Environment.GetEnvironmentVariable(ThreadPoolHop.InlineCompletionsVariable) is null)
{
    Environment.SetEnvironmentVariable(ThreadPoolHop.InlineCompletionsVariable, "1");
}

var root = new RootCommand("SmtpLens: a transparent SMTP inspection proxy for mail-flow incidents.\n" + ExitCodes.HelpText)
{
    ProxyCommand.Create(),
    AnalyzeCommand.Create(),
    ConnectorsCommand.Create(),
    LabCommand.Create(),
    CaCommand.Create(),
    ProbeCommand.Create(),
    DiffCommand.Create(),
    ReportCommand.Create(),
    PcapCommand.Create(),
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

// The proxy drains on SIGTERM/SIGINT for up to its --shutdown-grace; System.CommandLine would end the process after 2 s.
var invocation = new InvocationConfiguration();
if (parsed.CommandResult.Command.Name == "proxy")
{
    invocation.ProcessTerminationTimeout = null;
}

return await parsed.InvokeAsync(invocation);
