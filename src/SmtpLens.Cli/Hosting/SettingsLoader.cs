using System.Globalization;
using Microsoft.Extensions.Configuration;
using SmtpLens.Configuration;
using SmtpLens.IO;
using SmtpLens.Net;
using SmtpLens.Relay;
using SmtpLens.Simulation;
using SmtpLens.Tls;
using SmtpLens.Transcripts;

namespace SmtpLens.Cli.Hosting;

/// <summary>Builds settings from the config file, then SMTPLENS_* variables, then command-line options.</summary>
internal static class SettingsLoader
{
    public const string EnvironmentPrefix = "SMTPLENS_";

    public static SmtpLensSettings Load(string? configFile, IDictionary<string, string?> commandLine)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            if (!File.Exists(configFile))
            {
                throw new FileNotFoundException($"config file not found: {configFile}");
            }

            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(EnvironmentPrefix);
        builder.AddInMemoryCollection(commandLine);
        var settings = new SmtpLensSettings();
        builder.Build().Bind(settings);
        return settings;
    }

    public static RelayOptions ToRelayOptions(LimitsConfig limits)
    {
        if (limits.MaxLineLength < 512)
        {
            throw new FormatException("Limits.MaxLineLength must be at least 512 (RFC 5321's own minimum)");
        }

        return new RelayOptions
        {
            MaxLineLength = limits.MaxLineLength,
            IdleTimeout = Seconds(limits.IdleTimeoutSeconds, "IdleTimeoutSeconds"),
            MaxSessionDuration = Seconds(limits.MaxSessionSeconds, "MaxSessionSeconds"),
            ConnectTimeout = Seconds(limits.ConnectTimeoutSeconds, "ConnectTimeoutSeconds"),
            ShutdownGrace = limits.ShutdownGraceSeconds >= 0 ? TimeSpan.FromSeconds(limits.ShutdownGraceSeconds) : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Limits.ShutdownGraceSeconds must be 0 or more, got {limits.ShutdownGraceSeconds}")),
        };
    }

    public static TranscriptOptions ToTranscriptOptions(SmtpLensSettings settings) => new()
    {
        Directory = settings.Transcripts,
        Redact = settings.Redact,
        CaptureMessages = settings.CaptureMessages,
        FileMode = PrivateFiles.ParseMode(settings.TranscriptMode),
        Instance = settings.Instance ?? Environment.MachineName,
    };

    public static IReadOnlyList<ListenerSettings> ToListeners(SmtpLensSettings settings)
    {
        if (settings.Listeners.Count == 0)
        {
            throw new FormatException("no listener configured: give --listen ADDR:PORT --upstream HOST:PORT, or Listeners in the config file");
        }

        var result = new List<ListenerSettings>();
        for (var i = 0; i < settings.Listeners.Count; i++)
        {
            var l = settings.Listeners[i];
            var name = string.IsNullOrWhiteSpace(l.Name) ? $"listener{i + 1}" : l.Name;
            if (string.IsNullOrWhiteSpace(l.Listen))
            {
                throw new FormatException($"listener {name}: Listen is missing");
            }

            if (!UpstreamRouteNames.TryParse(l.Route, out var route))
            {
                throw new FormatException($"listener {name}: Route \"{l.Route}\" is not static, original-destination or tproxy");
            }

            if (route == UpstreamRoute.Static && string.IsNullOrWhiteSpace(l.Upstream))
            {
                throw new FormatException($"listener {name}: Upstream is missing (give --upstream HOST:PORT, or --route original-destination|tproxy for redirected traffic)");
            }

            if (route != UpstreamRoute.Static && !string.IsNullOrWhiteSpace(l.Upstream))
            {
                throw new FormatException($"listener {name}: Upstream {l.Upstream} and Route {route.Name()} exclude each other: a transparent route connects to each session's own destination");
            }

            if (l.SpoofSource && route != UpstreamRoute.Tproxy)
            {
                throw new FormatException($"listener {name}: --spoof-source needs --route tproxy (only TPROXY routing brings the replies to a spoofed source back to SmtpLens)");
            }

            var acceptProxy = l.ProxyProtocol?.Trim().ToLowerInvariant() switch
            {
                null or "" or "none" => ProxyProtocolMode.None,
                "v1" => ProxyProtocolMode.V1,
                "v2" => ProxyProtocolMode.V2,
                "optional" => ProxyProtocolMode.Optional,
                var other => throw new FormatException($"listener {name}: ProxyProtocol \"{other}\" is not none, v1, v2 or optional"),
            };
            var sendProxy = l.SendProxy?.Trim().ToLowerInvariant() switch
            {
                null or "" or "none" => 0,
                "v1" => 1,
                "v2" => 2,
                var other => throw new FormatException($"listener {name}: SendProxy \"{other}\" is not none, v1 or v2"),
            };

            var simulation = l.Simulate.Count > 0 ? SimulationRules.Parse(l.Simulate) : null;
            if (simulation is { FiltersEsmtp: true } && l.ImplicitTls)
            {
                throw new FormatException($"listener {name}: ESMTP filtering rules cannot apply to an implicit-TLS listener, whose dialogue is encrypted end to end");
            }

            _ = simulation?.ClientTls?.Apply();
            _ = simulation?.UpstreamTls?.Apply();
            var upstream = route == UpstreamRoute.Static ? HostPort.Parse(l.Upstream!, $"listener {name} upstream") : new HostPort("0.0.0.0", 0);
            result.Add(new ListenerSettings(name, HostPort.Parse(l.Listen, $"listener {name} listen"), upstream)
            {
                Route = route,
                SpoofSource = l.SpoofSource,
                AcceptProxy = acceptProxy,
                SendProxy = sendProxy,
                ImplicitTls = l.ImplicitTls,
                Simulation = simulation is { IsEmpty: false } ? simulation : null,
            });
        }

        return result;
    }

    /// <summary>TLS options from settings, with one line saying why when something needed is missing.</summary>
    /// <param name="note">Set to a line worth logging at startup (the mode chosen and why).</param>
    public static TlsInterceptionOptions ToTlsOptions(TlsConfig tls, TimeProvider time, out string note)
    {
        var caPresent = CertificateAuthority.ExistsIn(tls.CaDirectory);
        var mode = tls.Mode?.Trim().ToLowerInvariant() switch
        {
            null or "" => caPresent || tls.ServerCertificate is not null ? TlsMode.Intercept : TlsMode.Passthrough,
            "intercept" => TlsMode.Intercept,
            "passthrough" => TlsMode.Passthrough,
            var other => throw new FormatException($"Tls.Mode \"{other}\" is not intercept or passthrough"),
        };

        var policy = tls.Legacy ? TlsPolicy.Legacy : TlsPolicy.Default;
        if (!string.IsNullOrWhiteSpace(tls.MaxVersion))
        {
            policy = policy.CappedAt(TlsPolicy.ParseVersion(tls.MaxVersion));
        }

        var options = new TlsInterceptionOptions
        {
            Mode = mode,
            ClientPolicy = policy,
            UpstreamPolicy = policy,
            VerifyUpstream = tls.VerifyUpstream,
            RequestClientCertificate = tls.RequestClientCertificate,
            HandshakeTimeout = Seconds(tls.HandshakeTimeoutSeconds, "Tls.HandshakeTimeoutSeconds"),
        };

        if (tls.UpstreamCa is { } upstreamCa)
        {
            var anchors = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            anchors.ImportFromPemFile(upstreamCa);
            options = options with { UpstreamTrustAnchors = [.. anchors] };
        }

        if (tls.MirrorClientCertificate && tls.ClientCertificate is not null)
        {
            throw new FormatException("choose one client certificate for the upstream: --client-cert FILE or --mirror-client-cert, not both");
        }

        if (tls.MirrorClientCertificate)
        {
            options = options with { UpstreamClientCertificate = UpstreamClientCertificate.Mirror };
        }

        if (tls.ClientCertificate is not null)
        {
            options = options with { UpstreamClientCertificate = UpstreamClientCertificate.Static, StaticClientIdentity = TlsIdentityFile.Load(tls.ClientCertificate, tls.ClientKey) };
        }

        if (mode == TlsMode.Passthrough && tls.MirrorClientCertificate)
        {
            throw tls.Mode is null
                ? new FileNotFoundException($"--mirror-client-cert forges certificates and needs a CA in {tls.CaDirectory}: run 'smtplens ca init --dir {tls.CaDirectory}'")
                : new FormatException("--mirror-client-cert needs --tls intercept: in passthrough SmtpLens never takes part in the handshake");
        }

        if (mode == TlsMode.Passthrough)
        {
            note = tls.Mode is null
                ? $"TLS passthrough: no CA in {tls.CaDirectory}, so STARTTLS sessions are relayed encrypted (handshakes recorded, content not). Run 'smtplens ca init --dir {tls.CaDirectory}' to intercept."
                : "TLS passthrough: encrypted records are relayed unchanged; cleartext handshakes are recorded";
            return options;
        }

        if (tls.ServerCertificate is not null)
        {
            options = options with { StaticServerIdentity = TlsIdentityFile.Load(tls.ServerCertificate, tls.ServerKey) };
            note = $"TLS interception with the static certificate {tls.ServerCertificate}";
        }
        else
        {
            if (!caPresent)
            {
                throw new FileNotFoundException($"TLS interception needs a CA and there is none in {tls.CaDirectory}: run 'smtplens ca init --dir {tls.CaDirectory}', or use --tls passthrough");
            }

            var ca = CertificateAuthority.Load(tls.CaDirectory, time);
            options = options with { Authority = ca };
            note = $"TLS interception: certificates forged by the CA in {tls.CaDirectory} (sha256 {ca.Sha256Fingerprint[..16]}...)";
        }

        if (tls.MirrorClientCertificate)
        {
            if (options.Authority is null)
            {
                throw new FileNotFoundException($"--mirror-client-cert forges certificates and needs a CA in {tls.CaDirectory}: run 'smtplens ca init --dir {tls.CaDirectory}'");
            }

            note += "; client certificates requested and mirrored upstream (forged by the CA)";
        }

        if (tls.KeyLog is not null)
        {
            options = options with { KeyLog = new NssKeyLog(tls.KeyLog) };
            note += $"; key log {tls.KeyLog}";
        }

        if (tls.Legacy)
        {
            note += "; LEGACY suites and TLS 1.0/1.1 enabled";
        }

        return options;
    }

    /// <summary>The listener's TLS options: a simulation's restricted versions and suites replace the policies.</summary>
    public static TlsInterceptionOptions ForListener(TlsInterceptionOptions tls, ListenerSettings listener) =>
        listener.Simulation?.ApplyTo(tls) ?? tls;

    private static TimeSpan Seconds(double value, string name) =>
        value > 0 ? TimeSpan.FromSeconds(value) : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Limits.{name} must be positive, got {value}"));
}
