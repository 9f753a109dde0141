using System.CommandLine;
using SmtpLens.Cli.Hosting;
using SmtpLens.Lab;
using SmtpLens.Lab.Scenarios;
using SmtpLens.Net;
using SmtpLens.Transcripts;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens lab</c>: see SmtpLens work with no mail server of your own.</summary>
internal static class LabCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out", "-o") { HelpName = "DIR", Description = "Directory for transcripts and received mail.", DefaultValueFactory = _ => new DirectoryInfo("lab-output") };
        var keep = new Option<bool>("--keep-running") { Description = "Keep the lab upstream and proxy running after the samples, so other tools (swaks, openssl) can use them; Ctrl-C stops." };
        var excerpt = new Option<int>("--excerpt-lines") { HelpName = "LINES", Description = "How many transcript lines to show.", DefaultValueFactory = _ => 40 };
        var logLevel = new Option<string>("--log-level") { HelpName = "LEVEL", Description = "Log level for the proxy's own log.", DefaultValueFactory = _ => "Warning" };
        var tls = new Option<bool>("--tls") { Description = "The lab upstream offers STARTTLS and SmtpLens intercepts it with a lab CA; the transcript shows both handshake records." };
        var scenario = new Option<string?>("--scenario") { HelpName = "NAME", Description = "Reproduce an incident from the seeds (see --list): prints the setup, a transcript excerpt and the findings; exit 0 when it reproduced as designed." };
        scenario.AcceptOnlyFromAmong([.. LabScenarios.All.Select(s => s.Name)]);
        var list = new Option<bool>("--list") { Description = "List the scenarios." };
        var pcap = new Option<DirectoryInfo?>("--pcap") { HelpName = "DIR", Description = "Also write each sample session as DIR/<session>.pcapng (both legs, TLS secrets embedded: with --tls, Wireshark shows the decrypted SMTP). Not used with --scenario." };
        var command = new Command("lab", "Start a lab upstream SMTP server on loopback, put the proxy in front of it, send sample mail through, and show the transcripts. With --scenario, reproduce one of the seed incidents instead.\n" + ExitCodes.HelpText)
        {
            output, keep, excerpt, logLevel, tls, scenario, list, pcap,
        };
        command.Subcommands.Add(CreateServer());
        command.SetAction(async (parse, ct) =>
        {
            var dir = parse.GetValue(output)!.FullName;
            if (parse.GetValue(list))
            {
                ScenarioReport.List();
                return ExitCodes.Ok;
            }

            using var logs = LogSetup.Create(parse.GetValue(logLevel)!, null);
            if (parse.GetValue(scenario) is { } name)
            {
                var chosen = LabScenarios.Find(name)!;
                var run = await chosen.RunAsync(Path.Combine(dir, chosen.Name), logs.CreateLogger("smtplens"), TimeProvider.System, ct);
                ScenarioReport.Print(run, parse.GetValue(excerpt));
                PrintReportHint(dir);
                return run.Reproduced ? ExitCodes.Ok : ExitCodes.Failed;
            }

            var pcapDir = parse.GetValue(pcap)?.FullName;
            await using var demo = new LabDemo(dir, new TranscriptOptions(), logs.CreateLogger("smtplens"), TimeProvider.System, parse.GetValue(tls), pcapDir);
            demo.Start();
            Console.WriteLine("SmtpLens lab");
            Console.WriteLine($"  lab upstream SMTP server  {demo.Upstream.EndPoint}   (stores mail in {Relative(demo.MailDirectory)})");
            Console.WriteLine($"  SmtpLens proxy listener   {demo.Proxy.LocalEndPoint} -> {demo.Upstream.EndPoint}{(demo.Tls ? "   (STARTTLS intercepted with an ephemeral lab CA)" : string.Empty)}");
            Console.WriteLine();
            var result = await demo.RunSamplesAsync(ct);
            LabReport.Print(result, parse.GetValue(excerpt));
            PrintReportHint(dir);
            if (pcapDir is not null)
            {
                Console.WriteLine($"Captures (both legs, TLS secrets embedded): {Relative(pcapDir)}/<session>.pcapng; open one in Wireshark, or: tshark -r FILE -Y smtp");
            }

            if (parse.GetValue(keep))
            {
                Console.WriteLine();
                Console.WriteLine($"Still running. Try: swaks --server {demo.Proxy.LocalEndPoint.Address} --port {demo.Proxy.LocalEndPoint.Port} --to rcpt@lab.smtplens.test");
                Console.WriteLine("Ctrl-C stops.");
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl-C: stop quietly.
                }
            }

            return result.Passed ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    /// <summary>The next step after a lab run: see the sessions as a picture.</summary>
    private static void PrintReportHint(string dir)
    {
        Console.WriteLine();
        Console.WriteLine($"HTML report of these sessions: smtplens report {Relative(dir)} -o {Relative(Path.Combine(dir, "report.html"))}");
    }

    private static Command CreateServer()
    {
        var listen = new Option<string>("--listen", "-l") { HelpName = "ADDR:PORT", Description = "Address to accept SMTP on.", DefaultValueFactory = _ => "127.0.0.1:2526" };
        var maildir = new Option<DirectoryInfo>("--maildir") { HelpName = "DIR", Description = "Where accepted messages are written as .eml.", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("lab-output", "maildir")) };
        var hostname = new Option<string>("--hostname") { HelpName = "NAME", Description = "Name in the banner and EHLO reply.", DefaultValueFactory = _ => "lab-upstream.smtplens.test" };
        var command = new Command("server", "Run only the lab upstream SMTP server (a real listener: PIPELINING, CHUNKING, 8BITMIME, AUTH), until Ctrl-C.\n" + ExitCodes.HelpText)
        {
            listen, maildir, hostname,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (!HostPort.TryParse(parse.GetValue(listen), out var address))
            {
                await Console.Error.WriteLineAsync("smtplens lab server: --listen must be ADDR:PORT");
                return ExitCodes.Usage;
            }

            LabSmtpServer server;
            try
            {
                server = new LabSmtpServer(new LabServerOptions { MailDirectory = parse.GetValue(maildir)!.FullName, Hostname = parse.GetValue(hostname)! }, address.ToBindEndPoint());
            }
            catch (System.Net.Sockets.SocketException e)
            {
                await Console.Error.WriteLineAsync($"smtplens lab server: cannot listen on {address}: {e.Message}");
                return ExitCodes.StartupFailed;
            }

            await using (server)
            {
                server.MessageReceived += m => Console.WriteLine($"received #{m.Number} {m.Method} from {m.MailFrom} to {string.Join(",", m.Recipients)}: {m.Size} bytes sha256 {m.Sha256}{(m.Path is null ? string.Empty : $" -> {m.Path}")}");
                server.Start();
                Console.WriteLine($"lab upstream listening on {server.EndPoint}; Ctrl-C stops");
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl-C.
                }
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    internal static string Relative(string path) => Path.GetRelativePath(Environment.CurrentDirectory, path);
}

/// <summary>Prints a lab run: what was checked, the sessions, and a transcript excerpt.</summary>
internal static class LabReport
{
    public static void PrintChecks(IEnumerable<LabCheck> checks)
    {
        Console.WriteLine();
        Console.WriteLine("Checks:");
        foreach (var c in checks)
        {
            Console.WriteLine("  " + c.Line);
        }

        Console.WriteLine();
    }

    public static void Print(LabRunResult result, int excerptLines)
    {
        Console.WriteLine("Sessions:");
        foreach (var s in result.Sessions)
        {
            Console.WriteLine($"  {s.SessionId}  {s.Transactions.Count(t => t.Accepted)}/{s.Transactions.Count} accepted, ended {s.Reason}");
        }

        Console.WriteLine();
        Console.WriteLine($"Transcripts: {LabCommand.Relative(result.TranscriptDirectory)}/<session>.log | .jsonl | .csv");
        var first = result.Sessions.Count > 0 ? result.Sessions[0] : null;
        if (first is not null)
        {
            var path = Path.Combine(result.TranscriptDirectory, first.SessionId + ".log");
            if (File.Exists(path))
            {
                Console.WriteLine($"Excerpt of {LabCommand.Relative(path)}:");
                foreach (var line in File.ReadLines(path).Take(excerptLines))
                {
                    Console.WriteLine("  " + line);
                }

                Console.WriteLine("  ...");
                var tlsLines = File.ReadLines(path).Where(l => l.Contains(" leg: ", StringComparison.Ordinal) || l.Contains(" leg SmtpLens certificate", StringComparison.Ordinal) || l.Contains(" leg upstream certificate", StringComparison.Ordinal) || l.Contains(" offered", StringComparison.Ordinal) || l.Contains("certificate validation", StringComparison.Ordinal)).ToList();
                if (tlsLines.Count > 0)
                {
                    Console.WriteLine();
                    Console.WriteLine("TLS handshake records (both legs; full detail in the .jsonl \"tls\" events):");
                    foreach (var line in tlsLines)
                    {
                        Console.WriteLine("  " + line);
                    }
                }
            }
        }

        PrintChecks(result.Checks);
        Console.WriteLine(result.Passed ? "Lab passed: every message arrived intact and the transcripts are written." : "Lab FAILED: see the checks above.");
    }
}
