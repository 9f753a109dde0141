using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SmtpLens.Cli.Hosting;
using SmtpLens.Configuration;
using SmtpLens.Findings;
using SmtpLens.Net;
using SmtpLens.Relay;
using SmtpLens.Tls;

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
        var findings = new Option<string?>("--findings") { HelpName = "FILE", Description = "Append one JSON line per finding (code, severity, leg, title, evidence, causes, next step), across all sessions, to FILE. Findings also appear in the transcripts and the session-end log line." };
        var capture = new Option<bool>("--capture-messages") { Description = "Also write each message's full content to <session>-<n>.eml (off by default: transcripts hold size, SHA-256 and headers)." };
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
        var legacy = new Option<bool>("--tls-legacy") { Description = "Also offer and accept TLS 1.0/1.1 and legacy suites (CBC-SHA, static RSA, 3DES, RC4) on both legs, to reproduce old appliances." };
        var verifyUpstream = new Option<bool>("--verify-upstream") { Description = "Refuse upstreams whose certificate chain or name does not validate (default: record only)." };
        var upstreamCa = new Option<string?>("--upstream-ca") { HelpName = "FILE", Description = "PEM roots trusted for upstream certificates besides the system store (a private PKI); affects what is recorded and --verify-upstream." };
        var requestClientCert = new Option<bool>("--request-client-cert") { Description = "Ask the sending MTA for a client certificate (optional for it) and record it." };
        var clientCert = new Option<string?>("--client-cert") { HelpName = "FILE", Description = "Certificate presented upstream when it asks for one: PEM (with --client-key) or PFX. Default: none." };
        var mirrorClientCert = new Option<bool>("--mirror-client-cert") { Description = "When the upstream asks for a client certificate, present one forged by the CA that mirrors the sending MTA's subject and SANs (implies --request-client-cert). The upstream still sees our CA as issuer." };
        var clientKey = new Option<string?>("--client-key") { HelpName = "FILE", Description = "PEM private key for --client-cert (mode 0600)." };
        var serverCert = new Option<string?>("--server-cert") { HelpName = "FILE", Description = "Static certificate for the client leg instead of forged ones: PEM (with --server-key) or PFX." };
        var serverKey = new Option<string?>("--server-key") { HelpName = "FILE", Description = "PEM private key for --server-cert (mode 0600)." };
        var keylog = new Option<string?>("--keylog") { HelpName = "FILE", Description = "Write NSS key-log lines (CLIENT_RANDOM) for both legs, so Wireshark/tshark can decrypt captures. The file is created 0600." };
        var implicitTls = new Option<bool>("--implicit-tls") { Description = "The --listen addresses speak TLS from the first byte (port 465 style), and so does the upstream." };
        var simulate = new Option<string[]>("--simulate")
        {
            HelpName = "RULE",
            Description = "DEMONSTRATIONS ONLY: make every listener behave like a middlebox or restricted server, each change labelled as simulated in the transcripts. Repeatable. Rules: strip-keywords=STARTTLS,CHUNKING; mask-keywords=STARTTLS (Cisco XXXXXXXA); mask-banner; refuse-commands=VRFY:502,ETRN (500 default); refuse-ehlo; refuse-starttls (454); client-tls=1.0:RC4 and upstream-tls=1.0-1.2 (versions[:suite fragments joined by +]); drop-after-handshake=RC4.",
        };
        var handshakeTimeout = new Option<double?>("--handshake-timeout") { HelpName = "SECONDS", Description = "Time allowed for each TLS handshake (default 30)." };

        var command = new Command("proxy", "Relay SMTP between a sending MTA and its next hop, byte for byte, writing transcripts.\n" + ExitCodes.HelpText)
        {
            config, listen, upstream, name, transcripts, findings, capture, noRedact, logFile, logLevel, maxLine, idle, maxSession, connectTimeout, instance,
            tlsMode, caDir, legacy, verifyUpstream, upstreamCa, requestClientCert, clientCert, clientKey, mirrorClientCert, serverCert, serverKey, keylog, implicitTls, handshakeTimeout, simulate,
        };

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
            Set("CaptureMessages", parse.GetValue(capture) ? true : null);
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
            try
            {
                settings = SettingsLoader.Load(parse.GetValue(config)?.FullName, overrides);
                ApplyListenerOptions(settings, parse.GetValue(listen) ?? [], parse.GetValue(upstream), parse.GetValue(name), parse.GetValue(implicitTls), parse.GetValue(simulate) ?? []);
                _ = SettingsLoader.ToListeners(settings);
                _ = SettingsLoader.ToRelayOptions(settings.Limits);
            }
            catch (Exception e) when (e is FormatException or FileNotFoundException or InvalidOperationException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"smtplens proxy: {e.Message}");
                return ExitCodes.Usage;
            }

            return await RunAsync(settings, cancellationToken);
        });
        return command;
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

    private static async Task<int> RunAsync(SmtpLensSettings settings, CancellationToken cancellationToken)
    {
        using var logs = LogSetup.Create(settings.LogLevel, settings.LogFile);
        var log = logs.CreateLogger("smtplens");
        var relay = SettingsLoader.ToRelayOptions(settings.Limits);
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

        FindingsLog? findingsLog;
        try
        {
            findingsLog = settings.Findings is { } path ? new FindingsLog(path, transcripts.Instance) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            log.LogCritical("cannot open the findings file {File}: {Error}", settings.Findings, e.Message);
            return ExitCodes.Usage;
        }

        using var findingsFile = findingsLog;
        var ids = new SessionIdGenerator(TimeProvider.System);
        var listeners = new List<ProxyListener>();
        try
        {
            foreach (var listener in SettingsLoader.ToListeners(settings))
            {
                try
                {
                    var proxy = new ProxyListener(new SessionContext(listener, relay, transcripts, TimeProvider.System, log) { Tls = SettingsLoader.ForListener(tls, listener), FindingsLog = findingsLog }, ids);
                    listeners.Add(proxy);
                    proxy.Start();
                    log.LogInformation("listener {Listener} on {Listen} -> upstream {Upstream}{Implicit}", listener.Name, proxy.LocalEndPoint, listener.Upstream, listener.ImplicitTls ? " (implicit TLS)" : string.Empty);
                    if (listener.Simulation is { } rules)
                    {
                        log.LogWarning("SIMULATION ON for listener {Listener}: {Rules}. This listener deliberately alters sessions; every change is marked as simulated in the transcripts. Not for real mail flow.", listener.Name, string.Join("; ", rules.Describe()));
                    }
                }
                catch (SocketException e)
                {
                    log.LogCritical("cannot listen on {Listen} for listener {Listener}: {Error} ({Code})", listener.Listen, listener.Name, e.Message, e.SocketErrorCode);
                    return ExitCodes.StartupFailed;
                }
            }

            log.LogInformation(
                "SmtpLens proxy ready: {Count} listener(s); transcripts {Transcripts}; findings file {Findings}; AUTH redaction {Redaction}; limits line {Line} B, idle {Idle} s, session {Session} s",
                listeners.Count,
                transcripts.Directory ?? "off",
                findingsLog?.FilePath ?? "off",
                transcripts.Redact ? "on" : "OFF",
                relay.MaxLineLength,
                relay.IdleTimeout.TotalSeconds,
                relay.MaxSessionDuration.TotalSeconds);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                log.LogInformation("stopping: {Active} active session(s) will be closed", listeners.Sum(l => l.ActiveSessions));
            }

            return ExitCodes.Ok;
        }
        finally
        {
            foreach (var l in listeners)
            {
                await l.DisposeAsync();
            }
        }
    }
}
