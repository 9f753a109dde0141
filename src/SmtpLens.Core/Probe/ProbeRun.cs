using SmtpLens.Findings;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Probe;

/// <summary>A whole <c>probe</c> run: the MX lookup and each host's addresses (with <c>--mx</c>), one probe per
/// address, and the comparison between them; what the text report and the JSON both print.</summary>
internal sealed record ProbeRun(MxLookup? Lookup, IReadOnlyList<HostAddresses> Resolved, IReadOnlyList<HostProbe> Hosts, MxComparison? Comparison)
{
    public bool ImplicitTls { get; init; }

    /// <summary>The cap on addresses probed per MX host (<c>--max-addresses</c>).</summary>
    public int MaxAddresses { get; init; } = MxProbe.DefaultMaxAddresses;

    /// <summary>The findings that decide the exit code: each main connection's, then the domain's MX_TLS_INCONSISTENT.</summary>
    public IReadOnlyList<Finding> Counted => [.. ProbeOutcome.Counted(Hosts), .. Comparison?.Finding is { } f ? [f] : Array.Empty<Finding>()];

    public int ExitCode => ProbeOutcome.ExitCode(Hosts, Counted);
}
