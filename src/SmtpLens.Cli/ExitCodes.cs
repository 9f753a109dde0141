namespace SmtpLens.Cli;

/// <summary>Process exit codes, documented in docs/proxy.md and in <c>smtplens --help</c>.</summary>
internal static class ExitCodes
{
    /// <summary>Success; for the lab, every message was delivered intact.</summary>
    public const int Ok = 0;

    /// <summary>The run completed but its checks failed (a lab message was not delivered intact).</summary>
    public const int Failed = 1;

    /// <summary>Bad options or configuration.</summary>
    public const int Usage = 2;

    /// <summary>Could not start: a port in use, a permission missing.</summary>
    public const int StartupFailed = 3;

    public const string HelpText = "Exit codes: 0 ok, 1 checks failed, 2 usage or configuration error, 3 startup failure (e.g. port in use).";
}
