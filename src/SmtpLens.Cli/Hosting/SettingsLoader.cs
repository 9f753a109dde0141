using System.Globalization;
using Microsoft.Extensions.Configuration;
using SmtpLens.Configuration;
using SmtpLens.Net;
using SmtpLens.Relay;
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
        };
    }

    public static TranscriptOptions ToTranscriptOptions(SmtpLensSettings settings) => new()
    {
        Directory = settings.Transcripts,
        Redact = settings.Redact,
        CaptureMessages = settings.CaptureMessages,
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

            if (string.IsNullOrWhiteSpace(l.Upstream))
            {
                throw new FormatException($"listener {name}: Upstream is missing (give --upstream HOST:PORT)");
            }

            result.Add(new ListenerSettings(name, HostPort.Parse(l.Listen, $"listener {name} listen"), HostPort.Parse(l.Upstream, $"listener {name} upstream")));
        }

        return result;
    }

    private static TimeSpan Seconds(double value, string name) =>
        value > 0 ? TimeSpan.FromSeconds(value) : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Limits.{name} must be positive, got {value}"));
}
