using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SmtpLens.Cli.Hosting;
using SmtpLens.Configuration;
using SmtpLens.Connectors;
using SmtpLens.Findings;
using SmtpLens.IO;
using SmtpLens.Net;
using SmtpLens.Policy;
using SmtpLens.Proxy;
using SmtpLens.Relay;
using SmtpLens.Report;
using SmtpLens.Tls;
using SmtpLens.Tls.Revocation;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens proxy</c>: the relay itself.</summary>
internal static class ProxyCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c") { HelpName = "FILE", Description = "JSON settings file (see config/smtplens.json). Environment variables SMTPLENS_* override it; options override both." };
        var listen = new Option<string[]>("--listen", "-l") { HelpName = "ADDR:PORT", Description = "Address to accept SMTP on, ADDR:PORT (e.g. 127.0.0.1:2525, 0.0.0.0:25, [::1]:25). Repeat for several listeners; replaces the config file's listeners.", AllowMultipleArgumentsPerToken = false, Arity = ArgumentArity.ZeroOrMore };
        var upstream = new Option<string?>("--upstream", "-u") { HelpName = "HOST:PORT", Description = "Next hop HOST:PORT that sessions are relayed to (applies to every listener)." };
        var name = new Option<string?>("--name") { HelpName = "NAME", Description = "Listener name used in transcripts and the CSV connector-id (default listener1, listener2, ...)." };
        var transcripts = new Option<DirectoryInfo?>("--transcripts", "-t") { HelpName = "DIR", Description = "Write <session>.log, .jsonl and .csv transcripts to this directory." };
        var findings = new Option<string?>("--findings") { HelpName = "FILE", Description = "Append one JSON line per finding (code, severity, leg, title, evidence, causes, next step), and one \"type\":\"tls-policy\" line per policy verdict, across all sessions, to FILE. Findings also appear in the transcripts and the session-end log line." };
        var report = new Option<string?>("--report") { HelpName = "FILE", Description = "Keep an HTML incident report of the sessions in --transcripts at FILE, rewritten (write, then rename) as sessions end, at most every 10 s (longer for a report that is slow to write) and once more at shutdown; see 'smtplens report --help'." };
        var pcap = new Option<DirectoryInfo?>("--pcap") { HelpName = "DIR", Description = "Write each session as DIR/<session>.pcapng: both legs as two TCP streams with the real addresses and ports, and the session's TLS secrets in a Decryption Secrets Block, so Wireshark or 'tshark -r FILE -Y smtp' shows the decrypted SMTP of both legs with no key-log option. Mode as --transcript-mode (0600 by default: the files hold TLS secrets, and AUTH credentials exactly as sent, unredacted). Merge with 'smtplens pcap'; see docs/pcap.md." };
        var capture = new Option<bool>("--capture-messages") { Description = "Also write each message's full content to <session>-<n>.eml (off by default: transcripts hold size, SHA-256 and headers)." };
        var transcriptMode = new Option<string?>("--transcript-mode") { HelpName = "MODE", Description = "Octal file mode for transcripts, --capture-messages files and the --findings file (default 0600; directories SmtpLens creates get 0700, or x wherever the mode grants r, e.g. 0640 -> 0750). They hold decrypted mail." };
        var shutdownGrace = new Option<double?>("--shutdown-grace") { HelpName = "SECONDS", Description = "On SIGTERM/SIGINT: stop accepting, let open sessions finish for up to this long, then end the rest (transcripts say so) and flush every file (default 30; a second signal ends them at once)." };
        var noRedact = new Option<bool>("--no-redact") { Description = "Keep AUTH credentials in transcripts. Off by default; the transcript header warns when used." };
        var logFile = new Option<string?>("--log-file") { HelpName = "FILE", Description = "Also log to this file, rolled daily (console logging goes to stderr)." };
        var logLevel = new Option<string?>("--log-level") { HelpName = "LEVEL", Description = "Verbose, Debug, Information (default), Warning, Error." };
        var maxLine = new Option<int?>("--max-line-length") { HelpName = "BYTES", Description = "Longest command or reply line in bytes, CRLF included (default 16384; RFC 5321 minimum 512)." };
        var idle = new Option<double?>("--idle-timeout") { HelpName = "SECONDS", Description = "Seconds without data from either side before a session is closed (default 300)." };
        var maxSession = new Option<double?>("--max-session") { HelpName = "SECONDS", Description = "Maximum session length in seconds (default 3600)." };
        var connectTimeout = new Option<double?>("--connect-timeout") { HelpName = "SECONDS", Description = "Seconds to wait for the upstream TCP connection (default 30)." };
        var instance = new Option<string?>("--instance") { HelpName = "NAME", Description = "Instance name written in every JSON record (default: host name)." };
        var tlsMode = new Option<string?>("--tls") { HelpName = "MODE", Description = "intercept (terminate and re-originate TLS, decrypted transcripts) or passthrough (relay encrypted, record handshakes). Default: intercept when a CA exists in --ca-dir, else passthrough." };
        tlsMode.AcceptOnlyFromAmong("intercept", "passthrough");
        var caDir = new Option<string?>("--ca-dir") { HelpName = "DIR", Description = "Interception CA directory, made by 'smtplens ca init' (default certs)." };
        var tls13 = new Option<bool>("--tls13") { Description = "No effect (TLS 1.3 is on by default); kept for older command lines.", Hidden = true };
        var tlsMaxVersion = new Option<string?>("--tls-max-version") { HelpName = "VERSION", Description = "Highest TLS version on both legs: 1.3 (default; each leg offers what its peer offered) or 1.2 (also 1.0, 1.1 with --tls-legacy)." };
        var legacy = new Option<bool>("--tls-legacy") { Description = "Also offer and accept TLS 1.0/1.1 and legacy suites (CBC-SHA, static RSA, 3DES, RC4) on both legs, to reproduce old appliances." };
        var verifyUpstream = new Option<bool>("--verify-upstream") { Description = "Refuse upstreams whose certificate chain or name does not validate (default: record only)." };
        var upstreamCa = new Option<string?>("--upstream-ca") { HelpName = "FILE", Description = "PEM roots trusted for upstream certificates besides the system store (a private PKI); affects what is recorded and --verify-upstream." };
        var requestClientCert = new Option<bool>("--request-client-cert") { Description = "Ask the sending MTA for a client certificate (optional for it) and record it." };
        var clientCert = new Option<string?>("--client-cert") { HelpName = "FILE", Description = "Certificate presented upstream when it asks for one: PEM (with --client-key) or PFX. Default: none." };
        var mirrorClientCert = new Option<bool>("--mirror-client-cert") { Description = "When the upstream asks for a client certificate, present one forged by the CA that mirrors the sending MTA's subject and SANs (implies --request-client-cert). The upstream still sees our CA as issuer." };
        var clientKey = new Option<string?>("--client-key") { HelpName = "FILE", Description = "PEM private key for --client-cert (mode 0600)." };
        var serverCert = new Option<string?>("--server-cert") { HelpName = "FILE", Description = "Static certificate for the client leg instead of forged ones: PEM (with --server-key) or PFX." };
        var serverKey = new Option<string?>("--server-key") { HelpName = "FILE", Description = "PEM private key for --server-cert (mode 0600)." };
        var keylog = new Option<string?>("--keylog") { HelpName = "FILE", Description = "Write NSS key-log lines for both legs (CLIENT_RANDOM for TLS 1.2 and below; the five traffic and exporter secrets for TLS 1.3), so Wireshark/tshark can decrypt captures. The file is created 0600." };
        var implicitTls = new Option<bool>("--implicit-tls") { Description = "The --listen addresses speak TLS from the first byte (port 465 style), and so does the upstream." };
        var simulate = new Option<string[]>("--simulate")
        {
            HelpName = "RULE",
            Description = "DEMONSTRATIONS ONLY: make every listener behave like a middlebox or restricted server, each change labelled as simulated in the transcripts. Repeatable. Rules: strip-keywords=STARTTLS,CHUNKING; mask-keywords=STARTTLS (Cisco XXXXXXXA); mask-banner; refuse-commands=VRFY:502,ETRN (500 default); refuse-ehlo; refuse-starttls (454); client-tls=1.0:RC4 and upstream-tls=1.0-1.2 (versions[:suite fragments joined by +]); drop-after-handshake=RC4.",
        };
        var route = new Option<string?>("--route") { HelpName = "MODE", Description = "How each session finds its next hop: static (the --upstream, implied by it), original-destination (connections redirected by iptables/nftables REDIRECT or DNAT: read SO_ORIGINAL_DST and connect there) or tproxy (TPROXY-redirected connections, listening with IP_TRANSPARENT; needs CAP_NET_ADMIN)." };
        route.AcceptOnlyFromAmong("static", "original-destination", "tproxy");
        var spoofSource = new Option<bool>("--spoof-source") { Description = "With --route tproxy: connect upstream from the client's own address, so the upstream sees the real sender IP (needs the policy routing in docs/deployment.md)." };
        var proxyProtocol = new Option<string?>("--proxy-protocol") { HelpName = "MODE", Description = "Expect a HAProxy PROXY protocol header from connecting peers (a TCP load balancer): v1, v2, or optional (v1, v2 or none). Missing or malformed headers are rejected. Default: none." };
        proxyProtocol.AcceptOnlyFromAmong("none", "v1", "v2", "optional");
        var sendProxy = new Option<string?>("--send-proxy") { HelpName = "VERSION", Description = "Send a PROXY protocol header (v1 or v2) naming the real client to the upstream first, for a Postfix with smtpd_upstream_proxy_protocol = haproxy or a HAProxy with accept-proxy." };
        sendProxy.AcceptOnlyFromAmong("none", "v1", "v2");
        var connectors = new Option<string?>("--connectors") { HelpName = "FILE", Description = "Exchange Online inbound connectors (JSON, as for 'smtplens connectors'): record for each session which connector a certificate-name or IP match would select and why, and raise CONNECTOR_WILDCARD_OVERLAP as soon as a wildcard TlsSenderCertificateName matches a second sending host." };
        var checkRevocation = new Option<bool>("--check-revocation") { Description = "Check both peers' certificate chains for revocation: MAKES OUTBOUND HTTP REQUESTS to the CRL distribution points and OCSP responders the certificates name (5 s timeout, cached per URL, no proxy), off the relay path; results join the transcript and findings when they arrive. Off by default." };
        var handshakeTimeout = new Option<double?>("--handshake-timeout") { HelpName = "SECONDS", Description = "Time allowed for each TLS handshake (default 30)." };

        var command = new Command("proxy", "Relay SMTP between a sending MTA and its next hop, byte for byte, writing transcripts.")
        {
            config, listen, upstream, name, transcripts, findings, report, pcap, capture, transcriptMode, shutdownGrace, noRedact, logFile, logLevel, maxLine, idle, maxSession, connectTimeout, instance,
            tlsMode, caDir, legacy, tls13, tlsMaxVersion, verifyUpstream, upstreamCa, requestClientCert, clientCert, clientKey, mirrorClientCert, serverCert, serverKey, keylog, implicitTls, handshakeTimeout, simulate,
            route, spoofSource, proxyProtocol, sendProxy, connectors, checkRevocation,
        };
        var policy = PolicyOptions.ForProxy();
        foreach (var option in policy.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, string?>();
            void Set(string key, object? value)
            {
                if (value is not null)
                {
                    overrides[key] = Convert.ToString(value, CultureInfo.InvariantCulture);
                }
            }

            Set("Transcripts", parse.GetValue(transcripts)?.FullName);
            Set("Findings", parse.GetValue(findings));
            Set("Pcap", parse.GetValue(pcap)?.FullName);
            Set("CaptureMessages", parse.GetValue(capture) ? true : null);
            Set("TranscriptMode", parse.GetValue(transcriptMode));
            Set("Limits:ShutdownGraceSeconds", parse.GetValue(shutdownGrace));
            Set("Redact", parse.GetValue(noRedact) ? false : null);
            Set("LogFile", parse.GetValue(logFile));
            Set("LogLevel", parse.GetValue(logLevel));
            Set("Instance", parse.GetValue(instance));
            Set("Limits:MaxLineLength", parse.GetValue(maxLine));
            Set("Limits:IdleTimeoutSeconds", parse.GetValue(idle));
            Set("Limits:MaxSessionSeconds", parse.GetValue(maxSession));
            Set("Limits:ConnectTimeoutSeconds", parse.GetValue(connectTimeout));
            Set("Tls:Mode", parse.GetValue(tlsMode));
            Set("Tls:CaDirectory", parse.GetValue(caDir));
            Set("Tls:Legacy", parse.GetValue(legacy) ? true : null);
            Set("Tls:Tls13", parse.GetValue(tls13) ? true : null);
            Set("Tls:MaxVersion", parse.GetValue(tlsMaxVersion));
            Set("Tls:VerifyUpstream", parse.GetValue(verifyUpstream) ? true : null);
            Set("Tls:UpstreamCa", parse.GetValue(upstreamCa));
            Set("Tls:RequestClientCertificate", parse.GetValue(requestClientCert) ? true : null);
            Set("Tls:ClientCertificate", parse.GetValue(clientCert));
            Set("Tls:ClientKey", parse.GetValue(clientKey));
            Set("Tls:MirrorClientCertificate", parse.GetValue(mirrorClientCert) ? true : null);
            Set("Tls:ServerCertificate", parse.GetValue(serverCert));
            Set("Tls:ServerKey", parse.GetValue(serverKey));
            Set("Tls:KeyLog", parse.GetValue(keylog));
            Set("Tls:HandshakeTimeoutSeconds", parse.GetValue(handshakeTimeout));

            SmtpLensSettings settings;
            PolicySettings policies;
            try
            {
                policies = policy.Parse(parse, null, TimeSpan.FromSeconds(10));
                settings = SettingsLoader.Load(parse.GetValue(config)?.FullName, overrides);
                ApplyListenerOptions(settings, parse.GetValue(listen) ?? [], parse.GetValue(upstream), parse.GetValue(name), parse.GetValue(implicitTls), parse.GetValue(simulate) ?? []);
                ApplyTransparentOptions(settings, parse.GetValue(route), parse.GetValue(spoofSource), parse.GetValue(proxyProtocol), parse.GetValue(sendProxy), parse.GetValue(upstream) is not null);
                _ = SettingsLoader.ToListeners(settings);
                _ = SettingsLoader.ToRelayOptions(settings.Limits);
                _ = SettingsLoader.ToTranscriptOptions(settings);
            }
            catch (Exception e) when (e is FormatException or FileNotFoundException or InvalidOperationException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"smtplens proxy: {e.Message}");
                return ExitCodes.Usage;
            }

            var reportPath = parse.GetValue(report);
            if (reportPath is not null && settings.Transcripts is null)
            {
                await Console.Error.WriteLineAsync("smtplens proxy: --report needs --transcripts DIR (the report is built from the transcripts)");
                return ExitCodes.Usage;
            }

            var (connectorsRead, inbound) = await ConnectorsCommand.ReadOptionAsync("proxy", parse.GetValue(connectors), cancellationToken);
            if (!connectorsRead)
            {
                return ExitCodes.Usage;
            }

            return await RunAsync(settings, reportPath, inbound, parse.GetValue(checkRevocation), policies, cancellationToken);
        });
        return command.WithExample("smtplens proxy --listen 0.0.0.0:25 --upstream 10.0.0.25:25 --transcripts /var/log/smtplens --tls intercept --ca-dir certs");
    }

    internal static void ApplyListenerOptions(SmtpLensSettings settings, string[] listens, string? upstream, string? name, bool implicitTls, string[] simulate)
    {
        if (listens.Length > 0)
        {
            settings.Listeners = [.. listens.Select((l, i) => new ListenerConfig
            {
                Name = name is null ? $"listener{i + 1}" : listens.Length == 1 ? name : $"{name}{i + 1}",
                Listen = l,
                ImplicitTls = implicitTls,
            })];
        }

        foreach (var l in settings.Listeners)
        {
            l.Upstream = upstream ?? l.Upstream;
            l.Simulate.AddRange(simulate);
        }
    }

    /// <summary>--route, --spoof-source, --proxy-protocol and --send-proxy apply to every listener, like --upstream.</summary>
    internal static void ApplyTransparentOptions(SmtpLensSettings settings, string? route, bool spoofSource, string? proxyProtocol, string? sendProxy, bool upstreamGiven)
    {
        foreach (var l in settings.Listeners)
        {
            if (route is not null)
            {
                l.Route = route;
                if (route != "static" && !upstreamGiven)
                {
                    // A config file's Upstream gives way to an explicit transparent route on the command line.
                    l.Upstream = null;
                }
            }

            l.SpoofSource |= spoofSource;
            l.ProxyProtocol = proxyProtocol ?? l.ProxyProtocol;
            l.SendProxy = sendProxy ?? l.SendProxy;
        }
    }

    private static async Task<int> RunAsync(SmtpLensSettings settings, string? reportPath, IReadOnlyList<InboundConnector>? inbound, bool checkRevocation, PolicySettings policies, CancellationToken cancellationToken)
    {
        using var logs = LogSetup.Create(settings.LogLevel, settings.LogFile);
        var log = logs.CreateLogger("smtplens");
        var relay = SettingsLoader.ToRelayOptions(settings.Limits);
        if (settings.Pcap is { } pcapDirectory)
        {
            // Transcripts redact AUTH; a capture is the wire as it was, and its embedded secrets decrypt it.
            log.LogWarning("--pcap {Directory}: captures hold the bytes as sent with their TLS secrets, so AUTH credentials in them are NOT redacted; keep them as private as the mail itself", pcapDirectory);
        }

        var transcripts = SettingsLoader.ToTranscriptOptions(settings);
        TlsInterceptionOptions tls;
        try
        {
            tls = SettingsLoader.ToTlsOptions(settings.Tls, TimeProvider.System, out var tlsNote);
            log.LogInformation("{TlsNote}", tlsNote);
        }
        catch (Exception e) when (e is FormatException or FileNotFoundException or InvalidDataException or ArgumentException or UnauthorizedAccessException or IOException or System.Security.Cryptography.CryptographicException)
        {
            log.LogCritical("cannot start: {Error}", e.Message);
            return ExitCodes.Usage;
        }

        var problems = StartupCheck.Problems(SettingsLoader.ToListeners(settings), LinuxCapabilities.Effective(), LinuxCapabilities.UnprivilegedPortStart());
        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                log.LogCritical("cannot start: {Problem}", problem);
            }

            return ExitCodes.StartupFailed;
        }

        FindingsLog? findingsLog;
        try
        {
            findingsLog = settings.Findings is { } path ? new FindingsLog(path, transcripts.Instance, transcripts.FileMode, e => log.LogError("cannot write the findings file {File}: {Error}", path, e.Message)) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            log.LogCritical("cannot open the findings file {File}: {Error}", settings.Findings, e.Message);
            return ExitCodes.Usage;
        }

        await using var findingsFile = findingsLog;

        // Disposed before the findings file: late revocation results still reach it.
        await using var revocation = checkRevocation ? new RevocationChecker(TimeProvider.System) : null;
        var connectorWatch = inbound is null ? null : new ConnectorWatch(inbound);
        using var shutdown = new ShutdownSignals();
        await using var liveReport = reportPath is null ? null : new LiveReport(settings.Transcripts!, reportPath, TimeProvider.System, TimeSpan.FromSeconds(2), e => log.LogWarning("cannot update the report {File}: {Error}", reportPath, e.Message), rewriteEvery: TimeSpan.FromSeconds(10));
        liveReport?.Start();
        var ids = new SessionIdGenerator(TimeProvider.System);
        var policyLookups = policies.Lookups ? new PolicyLookups(policies.LookupSettings, TimeProvider.System) : null;
        var listeners = new List<ProxyListener>();
        var memoryTrim = new QuietTimeMemoryTrim(QuietTimeMemoryTrim.Aggressive);
        using var stopTrim = new CancellationTokenSource();
        var trimLoop = memoryTrim.RunAsync(TimeSpan.FromSeconds(10), TimeProvider.System, stopTrim.Token);
        try
        {
            foreach (var listener in SettingsLoader.ToListeners(settings))
            {
                try
                {
                    var proxy = new ProxyListener(new SessionContext(listener, relay, transcripts, TimeProvider.System, log) { Tls = SettingsLoader.ForListener(tls, listener), FindingsLog = findingsLog, Connectors = connectorWatch, Revocation = revocation, PcapDirectory = settings.Pcap, Policies = policies, PolicyLookups = policyLookups }, ids);
                    listeners.Add(proxy);
                    proxy.SessionStarted += _ => memoryTrim.Observe();
                    proxy.SessionCompleted += _ => memoryTrim.Observe();
                    proxy.Start();
                    log.LogInformation("listener {Listener} on {Listen} -> upstream {Upstream}{Implicit}{Proxy}", listener.Name, proxy.LocalEndPoint, listener.UpstreamText, listener.ImplicitTls ? " (implicit TLS)" : string.Empty, DescribeProxyProtocol(listener));
                    if (listener.Simulation is { } rules)
                    {
                        log.LogWarning("SIMULATION ON for listener {Listener}: {Rules}. This listener deliberately alters sessions; every change is marked as simulated in the transcripts. Not for real mail flow.", listener.Name, string.Join("; ", rules.Describe()));
                    }
                }
                catch (SocketException e)
                {
                    log.LogCritical("cannot listen on {Listen} for listener {Listener}: {Error} ({Code}){Hint}", listener.Listen, listener.Name, e.Message, e.SocketErrorCode, e.SocketErrorCode switch
                    {
                        SocketError.AddressAlreadyInUse => "; another process (an MTA, or another SmtpLens) holds the port",
                        SocketError.AccessDenied => "; ports below 1024 need root or CAP_NET_BIND_SERVICE",
                        SocketError.AddressNotAvailable => "; the address is not configured on this host",
                        _ => string.Empty,
                    });
                    return ExitCodes.StartupFailed;
                }
                catch (InvalidOperationException e)
                {
                    log.LogCritical("cannot start listener {Listener}: {Error}", listener.Name, e.Message);
                    return ExitCodes.StartupFailed;
                }
            }

            log.LogInformation(
                "SmtpLens proxy ready: {Count} listener(s); transcripts {Transcripts}; findings file {Findings}; captures {Pcap}; AUTH redaction {Redaction}; limits line {Line} B, idle {Idle} s, session {Session} s",
                listeners.Count,
                transcripts.Directory ?? "off",
                findingsLog?.FilePath ?? "off",
                settings.Pcap ?? "off",
                transcripts.Redact ? "on" : "OFF",
                relay.MaxLineLength,
                relay.IdleTimeout.TotalSeconds,
                relay.MaxSessionDuration.TotalSeconds);
            await shutdown.Requested.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await DrainAsync(listeners, relay.ShutdownGrace, log, shutdown.Hurry);
            return ExitCodes.Ok;
        }
        finally
        {
            foreach (var l in listeners)
            {
                await l.DisposeAsync();
            }

            await stopTrim.CancelAsync();
            await trimLoop;
        }
    }

    /// <summary>Stop accepting, give open sessions the grace period, end the rest; every transcript is complete on return.</summary>
    private static async Task DrainAsync(List<ProxyListener> listeners, TimeSpan grace, ILogger log, CancellationToken hurry)
    {
        foreach (var l in listeners)
        {
            await l.StopAcceptingAsync();
        }

        var open = listeners.Sum(l => l.ActiveSessions);
        if (open > 0)
        {
            log.LogInformation("stopping: no longer accepting; waiting up to {Grace} s for {Active} open session(s) to finish (signal again to end them now)", grace.TotalSeconds, open);
        }

        var ended = (await Task.WhenAll(listeners.Select(l => l.DrainAsync(grace, hurry)))).Sum();
        if (ended > 0)
        {
            log.LogWarning("stopping: ended {Ended} session(s) still open when the drain ended (grace {Grace} s, or a second signal); their transcripts end with a Shutdown limit event", ended, grace.TotalSeconds);
        }

        log.LogInformation("stopped: every session has ended and its transcript is written");
    }

    private static string DescribeProxyProtocol(ListenerSettings listener) =>
        (listener.AcceptProxy == ProxyProtocolMode.None ? string.Empty : $"; expects PROXY header ({listener.AcceptProxy.ToString().ToLowerInvariant()})")
        + (listener.SendProxy == 0 ? string.Empty : $"; sends PROXY v{listener.SendProxy} upstream");
}
