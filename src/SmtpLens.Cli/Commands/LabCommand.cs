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
        // TLS interception is what the lab shows by default now; the old switch is still accepted.
        var tls = new Option<bool>("--tls") { Description = "(default) STARTTLS intercepted with a lab CA.", Hidden = true };
        var scenario = new Option<string?>("--scenario") { HelpName = "NAME", Description = "Reproduce an incident from the seeds (see --list): prints the setup, a transcript excerpt and the findings; exit 0 when it reproduced as designed." };
        scenario.AcceptOnlyFromAmong([.. LabScenarios.All.Select(s => s.Name)]);
        var list = new Option<bool>("--list") { Description = "List the scenarios." };
        var checkRevocation = new Option<bool>("--check-revocation") { Description = "With --scenario: check both peers' certificate chains for revocation, as 'proxy --check-revocation' does: MAKES OUTBOUND HTTP REQUESTS to the CRL and OCSP URLs the certificates name (the lab's own certificates name loopback URLs only). exo-forced-tls turns it on by itself." };
        var connectors = new Option<string?>("--connectors") { HelpName = "FILE", Description = "With --scenario: match every session's sender against these Exchange Online inbound connectors (JSON), as 'proxy --connectors' does." };
        var pcap = new Option<DirectoryInfo?>("--pcap") { HelpName = "DIR", Description = "Also write each sample session as DIR/<session>.pcapng (both legs, TLS secrets embedded: Wireshark shows the decrypted SMTP). Not used with --scenario." };
        var command = new Command("lab", "See SmtpLens work on loopback in about 20 seconds: sample mail to a lab upstream with STARTTLS intercepted (both handshakes recorded), "
            + "and one session through a simulated ESMTP-inspection firewall that strips STARTTLS (caught as a finding); writes transcripts, a TLS key log and the HTML report. "
            + "With --scenario, reproduce one of the seed incidents instead.")
        {
            output, keep, excerpt, logLevel, tls, scenario, list, checkRevocation, connectors, pcap,
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
                var (connectorsRead, inbound) = await ConnectorsCommand.ReadOptionAsync("lab", parse.GetValue(connectors), ct);
                if (!connectorsRead)
                {
                    return ExitCodes.Usage;
                }

                var run = await chosen.RunAsync(Path.Combine(dir, chosen.Name), logs.CreateLogger("smtplens"), TimeProvider.System, ct, parse.GetValue(checkRevocation), inbound);
                ScenarioReport.Print(run, parse.GetValue(excerpt));
                PrintReportHint(dir);
                return run.Reproduced ? ExitCodes.Ok : ExitCodes.Failed;
            }

            var pcapDir = parse.GetValue(pcap)?.FullName;
            await using var demo = new LabDemo(dir, new TranscriptOptions(), logs.CreateLogger("smtplens"), TimeProvider.System, pcapDir);
            demo.Start();
            Console.WriteLine("SmtpLens lab");
            Console.WriteLine($"  lab upstream SMTP server  {demo.Upstream.EndPoint}   (offers STARTTLS; stores mail in {Relative(demo.MailDirectory)})");
            Console.WriteLine($"  SmtpLens proxy listener   {demo.Proxy.LocalEndPoint} -> {demo.Upstream.EndPoint}   (STARTTLS intercepted with an ephemeral lab CA)");
            Console.WriteLine($"  simulated firewall        {demo.Firewall.LocalEndPoint} -> {demo.Upstream.EndPoint}   (SIMULATED ESMTP inspection: --simulate {LabDemo.FirewallRule})");
            Console.WriteLine();
            var result = await demo.RunSamplesAsync(ct);
            LabReport.Print(result, parse.GetValue(excerpt));
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
        return command.WithExample("smtplens lab --scenario firewall-strips-starttls");
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
        var command = new Command("server", "Run only the lab upstream SMTP server (a real listener: PIPELINING, CHUNKING, 8BITMIME, AUTH), until Ctrl-C.")
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
        return command.WithExample("smtplens lab server --listen 127.0.0.1:2526 --maildir lab-output/maildir");
    }

    /// <summary>Relative to the working directory when below it (lab-output/...), else the full path.</summary>
    internal static string Relative(string path) =>
        Path.GetRelativePath(Environment.CurrentDirectory, path) is var relative && !relative.StartsWith("..", StringComparison.Ordinal) ? relative : Path.GetFullPath(path);
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
            Console.WriteLine($"  {s.SessionId}  via {s.Listener,-8}  {(s.TlsLegs.Count > 0 ? "TLS intercepted" : "plaintext"),-15}  {s.Transactions.Count(t => t.Accepted)}/{s.Transactions.Count} accepted, ended {s.Reason}, {s.Findings.Count} finding(s)");
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

        if (result.FirewallSession is { } firewall)
        {
            Console.WriteLine();
            Console.WriteLine($"Through the simulated firewall (session {firewall.SessionId}, {Path.Combine(LabCommand.Relative(result.TranscriptDirectory), firewall.SessionId + ".log")}):");
            Console.WriteLine($"  upstream capabilities: {string.Join(", ", firewall.UpstreamCapabilities)}");
            foreach (var finding in firewall.Findings)
            {
                Console.WriteLine("  " + finding.Headline);
            }
        }

        PrintChecks(result.Checks);
        Console.WriteLine(result.Passed ? "Lab passed: every message arrived intact, both TLS legs were recorded and the stripped STARTTLS was caught." : "Lab FAILED: see the checks above.");
        Console.WriteLine();
        Console.WriteLine("Written:");
        Console.WriteLine($"  transcripts  {LabCommand.Relative(result.TranscriptDirectory)}/   (<session>.log, .jsonl, .csv)");
        Console.WriteLine($"  TLS key log  {LabCommand.Relative(result.KeyLogPath)}   (NSS format: Wireshark decrypts both legs with it)");
        Console.WriteLine($"  report       {LabCommand.Relative(result.ReportPath)}");
        Console.WriteLine();
        Console.WriteLine($"Open the report: xdg-open {LabCommand.Relative(result.ReportPath)}");
    }
}
