namespace SmtpLens.Configuration;

/// <summary>The bindable settings tree: JSON file, then SMTPLENS_* environment variables, then options.</summary>
/// <remarks>Mutable because Microsoft.Extensions.Configuration binds by setting properties.</remarks>
internal sealed class SmtpLensSettings
{
    public List<ListenerConfig> Listeners { get; set; } = [];

    /// <summary>Directory for per-session transcripts; none are written when unset.</summary>
    public string? Transcripts { get; set; }

    public bool CaptureMessages { get; set; }

    public bool Redact { get; set; } = true;

    /// <summary>Rolling log file in addition to the console.</summary>
    public string? LogFile { get; set; }

    public string LogLevel { get; set; } = "Information";

    /// <summary>Names this instance in every JSON record; defaults to the host name.</summary>
    public string? Instance { get; set; }

    public LimitsConfig Limits { get; set; } = new();
}

internal sealed class ListenerConfig
{
    public string? Name { get; set; }

    public string? Listen { get; set; }

    public string? Upstream { get; set; }
}

internal sealed class LimitsConfig
{
    public int MaxLineLength { get; set; } = 16 * 1024;

    public double IdleTimeoutSeconds { get; set; } = 300;

    public double MaxSessionSeconds { get; set; } = 3600;

    public double ConnectTimeoutSeconds { get; set; } = 30;
}
