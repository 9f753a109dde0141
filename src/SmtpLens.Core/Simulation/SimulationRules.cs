using System.Globalization;
using SmtpLens.Tls;

namespace SmtpLens.Simulation;

/// <summary>What a simulated middlebox or server does to one listener's sessions. Off unless asked for.</summary>
/// <remarks>Each rule mimics a device from the seeds: an ESMTP-inspecting firewall that strips or masks
/// keywords (Cisco writes <c>XXXXXXXA</c> in place, same length, so TCP sequence numbers stay valid), a server
/// that refuses TLS, or a TLS stack restricted to TLS 1.0/RC4 that drops the connection after the handshake.</remarks>
internal sealed record SimulationRules
{
    public IReadOnlySet<string> StripKeywords { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    public IReadOnlySet<string> MaskKeywords { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Cisco <c>mask-banner</c>: every character of the greeting text except 2s and 0s becomes '*'.</summary>
    public bool MaskBanner { get; init; }

    /// <summary>Commands the middlebox answers itself (500 or 502) without forwarding them.</summary>
    public IReadOnlyDictionary<string, int> RefuseCommands { get; init; } = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Answer EHLO with 500 so the client falls back to HELO.</summary>
    public bool RefuseEhlo { get; init; }

    /// <summary>Answer STARTTLS with 454 4.7.0.</summary>
    public bool RefuseStartTls { get; init; }

    /// <summary>Versions and suites SmtpLens accepts from the client / offers upstream, replacing the defaults.</summary>
    public TlsRestriction? ClientTls { get; init; }

    public TlsRestriction? UpstreamTls { get; init; }

    /// <summary>Close the session right after a client-leg handshake whose suite name contains this text.</summary>
    public string? DropAfterHandshake { get; init; }

    public bool FiltersEsmtp => StripKeywords.Count > 0 || MaskKeywords.Count > 0 || MaskBanner || RefuseCommands.Count > 0 || RefuseEhlo || RefuseStartTls;

    /// <summary>TLS options with this simulation's restricted versions and suites in place of the policies.</summary>
    public TlsInterceptionOptions ApplyTo(TlsInterceptionOptions tls) => tls with
    {
        ClientPolicy = ClientTls?.Apply() ?? tls.ClientPolicy,
        UpstreamPolicy = UpstreamTls?.Apply() ?? tls.UpstreamPolicy,
    };

    public bool IsEmpty => !FiltersEsmtp && ClientTls is null && UpstreamTls is null && DropAfterHandshake is null;

    /// <summary>The rules in the same syntax <c>--simulate</c> takes, for the startup line and transcripts.</summary>
    public IReadOnlyList<string> Describe()
    {
        var rules = new List<string>();
        if (StripKeywords.Count > 0)
        {
            rules.Add("strip-keywords=" + string.Join(',', StripKeywords.Order(StringComparer.Ordinal)));
        }

        if (MaskKeywords.Count > 0)
        {
            rules.Add("mask-keywords=" + string.Join(',', MaskKeywords.Order(StringComparer.Ordinal)));
        }

        if (MaskBanner)
        {
            rules.Add("mask-banner");
        }

        if (RefuseCommands.Count > 0)
        {
            rules.Add("refuse-commands=" + string.Join(',', RefuseCommands.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key}:{c.Value}"))));
        }

        if (RefuseEhlo)
        {
            rules.Add("refuse-ehlo");
        }

        if (RefuseStartTls)
        {
            rules.Add("refuse-starttls");
        }

        if (ClientTls is { } client)
        {
            rules.Add("client-tls=" + client);
        }

        if (UpstreamTls is { } upstream)
        {
            rules.Add("upstream-tls=" + upstream);
        }

        if (DropAfterHandshake is { } drop)
        {
            rules.Add("drop-after-handshake=" + drop);
        }

        return rules;
    }

    /// <summary>Parses <c>--simulate</c> values; each is one rule, e.g. <c>strip-keywords=STARTTLS,CHUNKING</c>.</summary>
    public static SimulationRules Parse(IEnumerable<string> specs)
    {
        var strip = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var mask = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var refuse = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var rules = new SimulationRules { StripKeywords = strip, MaskKeywords = mask, RefuseCommands = refuse };
        foreach (var spec in specs)
        {
            var equals = spec.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? spec : spec[..equals]).Trim().ToLowerInvariant();
            var value = equals < 0 ? null : spec[(equals + 1)..].Trim();
            string Value() => string.IsNullOrEmpty(value) ? throw new FormatException($"--simulate {name} needs a value, e.g. {name}={Example(name)}") : value;
            IEnumerable<string> List() => Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            switch (name)
            {
                case "strip-keywords":
                    strip.UnionWith(List().Select(k => k.ToUpperInvariant()));
                    break;
                case "mask-keywords":
                    mask.UnionWith(List().Select(k => k.ToUpperInvariant()));
                    break;
                case "mask-banner":
                    rules = rules with { MaskBanner = true };
                    break;
                case "refuse-commands":
                    foreach (var item in List())
                    {
                        var parts = item.Split(':', 2);
                        var code = parts.Length == 1 ? 500 : int.Parse(parts[1], CultureInfo.InvariantCulture);
                        if (code is not (500 or 502))
                        {
                            throw new FormatException($"--simulate refuse-commands: {item}: the code must be 500 or 502");
                        }

                        refuse[parts[0].ToUpperInvariant()] = code;
                    }

                    break;
                case "refuse-ehlo":
                    rules = rules with { RefuseEhlo = true };
                    break;
                case "refuse-starttls":
                    rules = rules with { RefuseStartTls = true };
                    break;
                case "client-tls":
                    rules = rules with { ClientTls = TlsRestriction.Parse(Value()) };
                    break;
                case "upstream-tls":
                    rules = rules with { UpstreamTls = TlsRestriction.Parse(Value()) };
                    break;
                case "drop-after-handshake":
                    rules = rules with { DropAfterHandshake = Value().ToUpperInvariant() };
                    break;
                default:
                    throw new FormatException($"--simulate: unknown rule \"{name}\"; rules are {string.Join(", ", Names)}");
            }
        }

        return rules;
    }

    public static IReadOnlyList<string> Names { get; } =
        ["strip-keywords", "mask-keywords", "mask-banner", "refuse-commands", "refuse-ehlo", "refuse-starttls", "client-tls", "upstream-tls", "drop-after-handshake"];

    private static string Example(string name) => name switch
    {
        "strip-keywords" or "mask-keywords" => "STARTTLS,CHUNKING",
        "refuse-commands" => "VRFY:502,ETRN",
        "client-tls" or "upstream-tls" => "1.0:RC4",
        "drop-after-handshake" => "RC4",
        _ => "...",
    };
}

/// <summary>A TLS leg limited to some versions and to the suites whose names contain one of some patterns.</summary>
internal sealed record TlsRestriction(int MinimumVersion, int MaximumVersion, IReadOnlyList<string> SuitePatterns)
{
    /// <summary><c>1.0</c>, <c>1.0-1.2</c>, optionally <c>:RC4+3DES</c> for suite name fragments.</summary>
    public static TlsRestriction Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var versions = colon < 0 ? text : text[..colon];
        var patterns = colon < 0 ? [] : text[(colon + 1)..].Split('+', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => p.ToUpperInvariant()).ToList();
        var range = versions.Split('-', 2);
        var min = TlsPolicy.ParseVersion(range[0]);
        var max = range.Length == 2 ? TlsPolicy.ParseVersion(range[1]) : min;
        if (min > max)
        {
            throw new FormatException($"TLS versions {versions}: the first must not be above the second");
        }

        return new TlsRestriction(min, max, patterns);
    }

    /// <summary>Narrows the legacy policy (which holds every suite we can speak) to this restriction.</summary>
    public TlsPolicy Apply()
    {
        var matching = TlsPolicy.Legacy.CipherSuites
            .Where(s => SuitePatterns.Count == 0 || SuitePatterns.Any(p => TlsNames.CipherSuite(s).Contains(p, StringComparison.Ordinal)))
            .ToList();
        if (matching.Count == 0)
        {
            throw new FormatException($"no cipher suite SmtpLens can speak matches {string.Join(" or ", SuitePatterns)}");
        }

        // A suite that needs a newer version than the leg may speak could never be chosen.
        var suites = matching.Where(s => TlsPolicy.WorksAt(s, MaximumVersion)).ToList();
        if (suites.Count == 0)
        {
            throw new FormatException($"the cipher suites matching {string.Join(" or ", SuitePatterns)} need TLS 1.2, above {TlsNames.Version(MaximumVersion)}");
        }

        return TlsPolicy.Legacy with { MinimumVersion = MinimumVersion, MaximumVersion = MaximumVersion, CipherSuites = suites };
    }

    public override string ToString() =>
        $"{TlsNames.Version(MinimumVersion)}{(MaximumVersion != MinimumVersion ? "-" + TlsNames.Version(MaximumVersion) : string.Empty)}{(SuitePatterns.Count > 0 ? ":" + string.Join('+', SuitePatterns) : string.Empty)}";
}
