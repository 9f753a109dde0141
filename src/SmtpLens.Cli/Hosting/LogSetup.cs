using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace SmtpLens.Cli.Hosting;

/// <summary>Serilog to stderr (stdout stays clean for results) and optionally a daily rolling file.</summary>
internal static class LogSetup
{
    private const string Template = "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] {Message:lj}{NewLine}{Exception}";

    public static ILoggerFactory Create(string level, string? logFile)
    {
        if (!Enum.TryParse<LogEventLevel>(level, ignoreCase: true, out var minimum))
        {
            throw new FormatException($"log level \"{level}\" is not one of Verbose, Debug, Information, Warning, Error, Fatal");
        }

        var config = new LoggerConfiguration()
            .MinimumLevel.Is(minimum)
            .WriteTo.Console(outputTemplate: Template, standardErrorFromLevel: LogEventLevel.Verbose, formatProvider: System.Globalization.CultureInfo.InvariantCulture);
        if (logFile is not null)
        {
            config = config.WriteTo.File(logFile, outputTemplate: Template, rollingInterval: RollingInterval.Day, retainedFileCountLimit: 14, formatProvider: System.Globalization.CultureInfo.InvariantCulture);
        }

        return new SerilogLoggerFactory(config.CreateLogger(), dispose: true);
    }
}
