using System.CommandLine;
using System.Net;
using System.Text.Json;
using SmtpLens.Net;
using SmtpLens.Net.Resolver;
using SmtpLens.Policy;
using SmtpLens.Probe;
using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens probe</c>: a single-ended check of a receiving MTA, in the spirit of posttls-finger.</summary>
internal static class ProbeCommand
{
    public const string ExitText = "Exit codes: 0 no finding of warning or above, 1 at least one, 2 usage or connection error.";

    public static Command Create()
    {
        var target = new Argument<string?>("HOST[:PORT]") { Description = "Server to probe (port 25 by default, 465 with --implicit-tls). Omit with --mx.", Arity = ArgumentArity.ZeroOrOne };
        var mx = new Option<string?>("--mx") { HelpName = "DOMAIN", Description = "Resolve DOMAIN's MX records and each MX host's A and AAAA records (through --dns-server), probe every address in preference order with the MX host's name for SNI and the certificate check, and compare them (MX_TLS_INCONSISTENT)." };
        var maxAddresses = new Option<int>("--max-addresses") { HelpName = "N", Description = $"With --mx, probe at most N addresses per MX host (default {MxProbe.DefaultMaxAddresses}); the others are listed as not probed.", DefaultValueFactory = _ => MxProbe.DefaultMaxAddresses };
        var port = new Option<int?>("--port") { HelpName = "PORT", Description = "Port for the --mx hosts (default 25, or 465 with --implicit-tls)." };
        var dnsServer = new Option<string?>("--dns-server", "--dns-resolver") { HelpName = "IP[:PORT]", Description = "DNS server for --mx and the policy lookups (its AD bit is trusted for DANE; default: the first nameserver in /etc/resolv.conf)." };
        var ehlo = new Option<string?>("--ehlo") { HelpName = "NAME", Description = "Name sent with EHLO (default: this machine's host name)." };
        var sni = new Option<string?>("--sni") { HelpName = "NAME", Description = "TLS server name sent and checked against the certificate (default: the host probed, unless it is an IP)." };
        var force = new Option<bool>("--force-starttls") { Description = "Send STARTTLS even when the EHLO reply does not advertise it (e.g. masked as XXXXXXXA by a firewall)." };
        var noStartTls = new Option<bool>("--no-starttls") { Description = "Do not start TLS; check instead whether the server demands it (the probe sends VRFY postmaster, never MAIL)." };
        var implicitTls = new Option<bool>("--implicit-tls") { Description = "TLS from the first byte (port 465, RFC 8314)." };
        var versions = new Option<string[]>("--tls-version") { HelpName = "VERSION", Description = "Also try a connection offering only this version (tls1.0, tls1.1, tls1.2, tls1.3); repeatable.", Arity = ArgumentArity.ZeroOrMore };
        var ciphers = new Option<string[]>("--cipher") { HelpName = "SUITE", Description = "Also try a connection offering only this IANA suite (e.g. TLS_RSA_WITH_RC4_128_SHA); repeatable; with --tls-version, every pair.", Arity = ArgumentArity.ZeroOrMore };
        var timeout = new Option<double>("--timeout") { HelpName = "SECONDS", Description = "Limit for the connect, each reply and each TLS handshake.", DefaultValueFactory = _ => 30 };
        var json = new Option<bool>("--json") { Description = "Print JSON (the input 'smtplens diff' compares) instead of the report." };
        var transcripts = new Option<DirectoryInfo?>("--transcripts", "-t") { HelpName = "DIR", Description = "Also write each probe connection's .log, .jsonl and .csv transcript here." };
        var checkRevocation = new Option<bool>("--check-revocation") { Description = "Also check the server's certificate chain for revocation: MAKES OUTBOUND HTTP REQUESTS to the CRL distribution points and OCSP responders its certificates name (5 s timeout, no proxy). Off by default." };
        var command = new Command("probe", "Connect to a receiving MTA, read its banner and EHLO keywords, start TLS, record the handshake and certificate, compare the keywords inside TLS, and report findings. Never sends MAIL.")
        {
            target, mx, maxAddresses, port, dnsServer, ehlo, sni, force, noStartTls, implicitTls, versions, ciphers, timeout, json, transcripts, checkRevocation,
        };
        var policy = PolicyOptions.ForProbe();
        foreach (var option in policy.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, ct) =>
        {
            var host = parse.GetValue(target);
            var domain = parse.GetValue(mx);
            var implicitMode = parse.GetValue(implicitTls);
            ProbeOptions options;
            PolicySettings policies;
            IReadOnlyList<HostPort> targets = [];
            try
            {
                if ((host is null) == (domain is null))
                {
                    throw new FormatException("give either HOST[:PORT] or --mx DOMAIN");
                }

                if (parse.GetValue(force) && parse.GetValue(noStartTls))
                {
                    throw new FormatException("--force-starttls and --no-starttls exclude each other");
                }

                if (parse.GetValue(port) is { } p && (domain is null || p is < 1 or > 65535))
                {
                    throw new FormatException(domain is null ? "--port goes with --mx; give HOST:PORT instead" : "--port must be 1-65535");
                }

                if (parse.GetValue(maxAddresses) is < 1 or > 64)
                {
                    throw new FormatException("--max-addresses must be between 1 and 64");
                }

                var seconds = parse.GetValue(timeout);
                if (seconds is <= 0 or > 3600)
                {
                    throw new FormatException("--timeout must be between 0 and 3600 seconds");
                }

                options = new ProbeOptions
                {
                    EhloName = parse.GetValue(ehlo) ?? DefaultEhloName(),
                    ServerName = parse.GetValue(sni),
                    StartTls = parse.GetValue(force) ? StartTlsMode.Always : parse.GetValue(noStartTls) ? StartTlsMode.Never : StartTlsMode.IfOffered,
                    ImplicitTls = implicitMode,
                    Timeout = TimeSpan.FromSeconds(seconds),
                    Offers = TlsOffers.Build(parse.GetValue(versions) ?? [], parse.GetValue(ciphers) ?? []),
                    Transcripts = new TranscriptOptions { Directory = parse.GetValue(transcripts)?.FullName },
                };
                if (host is not null)
                {
                    targets = [ParseTarget(host, implicitMode ? 465 : 25)];
                }

                policies = policy.Parse(parse, parse.GetValue(dnsServer), TimeSpan.FromSeconds(seconds));
            }
            catch (FormatException e)
            {
                await Console.Error.WriteLineAsync($"smtplens probe: {e.Message}");
                return ExitCodes.Usage;
            }

            await using var revocation = parse.GetValue(checkRevocation) ? new RevocationChecker(TimeProvider.System) : null;
            options = options with { Revocation = revocation };
            try
            {
                return await RunAsync(options, targets, domain, parse.GetValue(dnsServer), parse.GetValue(port), parse.GetValue(maxAddresses), parse.GetValue(json), policies, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync("smtplens probe: interrupted");
                return ExitCodes.Usage;
            }
        });
        return command.WithExample("smtplens probe mx.example.com --transcripts probe-transcripts", ExitText);
    }

    private static async Task<int> RunAsync(ProbeOptions options, IReadOnlyList<HostPort> targets, string? domain, string? dnsServer, int? port, int maxAddresses, bool json, PolicySettings policies, CancellationToken ct)
    {
        var implicitMode = options.ImplicitTls;
        var probe = new SmtpProbe(options, TimeProvider.System);
        IReadOnlyList<HostProbe> hosts;
        IReadOnlyList<HostAddresses> resolved = [];
        MxLookup? lookup = null;
        if (domain is not null)
        {
            try
            {
                var server = dnsServer is { } given ? ResolvConf.ParseServer(given) : SystemResolver();
                lookup = await MxResolver.LookupAsync(domain, server, options.Timeout, TimeProvider.System, ct);
            }
            catch (Exception e) when (e is FormatException or TimeoutException or System.Net.Sockets.SocketException or IOException)
            {
                await Console.Error.WriteLineAsync($"smtplens probe: MX lookup for {domain} failed: {e.Message}");
                return ExitCodes.Usage;
            }

            if (lookup.Problem is { } problem)
            {
                await Console.Error.WriteLineAsync($"smtplens probe: {problem}");
                return ExitCodes.Usage;
            }

            (resolved, hosts) = await MxProbe.ProbeAsync(probe, lookup, port ?? (implicitMode ? 465 : 25), maxAddresses, options.Timeout, TimeProvider.System, ct);
        }
        else
        {
            hosts = [await probe.ProbeHostAsync(targets[0], null, ct)];
        }

        var lookups = policies.Lookups ? new PolicyLookups(policies.LookupSettings, TimeProvider.System) : null;
        hosts = await ProbePolicies.EvaluateAllAsync(hosts, policies, lookups, domain, implicitMode, TimeProvider.System, ct);
        var run = new ProbeRun(lookup, resolved, hosts, lookup is null ? null : MxComparison.Compare(domain, hosts, implicitMode))
        {
            ImplicitTls = implicitMode,
            MaxAddresses = maxAddresses,
        };

        if (json)
        {
            await using var stdout = Console.OpenStandardOutput();
            await using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = JsonLinesTranscriptFormat.Encoder }))
            {
                ProbeJsonReport.Write(writer, run, Environment.MachineName);
            }

            await stdout.WriteAsync("\n"u8.ToArray(), ct);
        }
        else
        {
            Console.Write(ProbeRunReport.Write(run));
        }

        foreach (var failed in hosts.Where(h => h.Main.Error is not null))
        {
            await Console.Error.WriteLineAsync($"smtplens probe: {(failed.Address is null ? failed.Target.ToString() : failed.Label)}: {failed.Main.Error}");
        }

        return run.ExitCode;
    }

    /// <summary>HOST, HOST:PORT, [v6]:PORT or a bare IPv6 address.</summary>
    internal static HostPort ParseTarget(string text, int defaultPort)
    {
        if (HostPort.TryParse(text, out var hp))
        {
            return hp.Port == 0 ? throw new FormatException($"\"{text}\": port 0 cannot be probed") : hp;
        }

        var host = text.Trim().Trim('[', ']');
        if (host.Length == 0 || (host.Contains(':', StringComparison.Ordinal) && !IPAddress.TryParse(host, out _)))
        {
            throw new FormatException($"\"{text}\" is not HOST or HOST:PORT (use [v6addr]:port for IPv6)");
        }

        return new HostPort(host, defaultPort);
    }

    private static IPEndPoint SystemResolver()
    {
        var servers = File.Exists(ResolvConf.DefaultPath) ? ResolvConf.Parse(File.ReadAllText(ResolvConf.DefaultPath)) : [];
        return servers.Count > 0 ? servers[0] : throw new FormatException($"no nameserver in {ResolvConf.DefaultPath}; give --dns-server");
    }

    private static string DefaultEhloName()
    {
        var name = Dns.GetHostName();
        return string.IsNullOrWhiteSpace(name) ? "smtplens-probe.invalid" : name;
    }
}
