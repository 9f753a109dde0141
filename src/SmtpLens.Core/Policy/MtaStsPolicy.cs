using System.Globalization;

namespace SmtpLens.Policy;

internal enum MtaStsMode
{
    None,
    Testing,
    Enforce,
}

/// <summary>An MTA-STS policy (RFC 8461 3.2) and the pure rules around it: the TXT record, the policy file, the mx patterns.</summary>
internal sealed record MtaStsPolicy(MtaStsMode Mode, IReadOnlyList<string> Mx, long MaxAge, string Text)
{
    /// <summary>RFC 8461 3.2: max_age is at most one year.</summary>
    public const long MaxMaxAge = 31557600;

    public string ModeName => Mode.ToString().ToLowerInvariant();

    /// <summary>The "id" of the one valid <c>v=STSv1</c> TXT record, or why there is no policy (RFC 8461 3.1: records not
    /// starting with v=STSv1 are discarded; any number of the rest other than one means no policy).</summary>
    public static (string? Id, string? Problem) ParseTxt(IReadOnlyList<string> records)
    {
        var sts = records.Where(r => r.StartsWith("v=STSv1", StringComparison.Ordinal)).ToList();
        if (sts.Count != 1)
        {
            return (null, sts.Count == 0 ? "no TXT record starts with v=STSv1: no MTA-STS policy" : $"{sts.Count} TXT records start with v=STSv1 (exactly one allowed): no MTA-STS policy");
        }

        string? id = null;
        foreach (var field in sts[0].Split(';', StringSplitOptions.TrimEntries))
        {
            var eq = field.IndexOf('=', StringComparison.Ordinal);
            if (field.Length == 0)
            {
                continue;
            }

            if (eq <= 0)
            {
                return (null, $"malformed field \"{field}\" in \"{sts[0]}\": no MTA-STS policy");
            }

            if (field[..eq] == "id")
            {
                id = field[(eq + 1)..];
            }
        }

        return id is { Length: > 0 and <= 32 } && id.All(char.IsAsciiLetterOrDigit)
            ? (id, null)
            : (null, $"\"{sts[0]}\" has no valid id (1-32 letters or digits): no MTA-STS policy");
    }

    /// <summary>Parses the policy body (RFC 8461 3.2); returns the policy or the sts-policy-invalid reason.</summary>
    public static (MtaStsPolicy? Policy, string? Problem) Parse(string text)
    {
        string? version = null;
        string? mode = null;
        string? maxAge = null;
        var mx = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                return (null, $"line \"{line}\" is not key: value");
            }

            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "version":
                    version ??= value;
                    break;
                case "mode":
                    mode ??= value;
                    break;
                case "max_age":
                    maxAge ??= value;
                    break;
                case "mx":
                    mx.Add(value);
                    break;
            }
        }

        if (version != "STSv1")
        {
            return (null, $"version is {version ?? "missing"}, not STSv1");
        }

        MtaStsMode parsedMode;
        switch (mode)
        {
            case "enforce":
                parsedMode = MtaStsMode.Enforce;
                break;
            case "testing":
                parsedMode = MtaStsMode.Testing;
                break;
            case "none":
                parsedMode = MtaStsMode.None;
                break;
            default:
                return (null, $"mode is {mode ?? "missing"}, not enforce, testing or none");
        }

        if (!long.TryParse(maxAge, NumberStyles.None, CultureInfo.InvariantCulture, out var age) || age > MaxMaxAge)
        {
            return (null, $"max_age {maxAge ?? "missing"} is not a number of seconds up to {MaxMaxAge}");
        }

        if (mx.Count == 0 && parsedMode != MtaStsMode.None)
        {
            return (null, "no mx line (required unless mode is none)");
        }

        return (new MtaStsPolicy(parsedMode, mx, age, text), null);
    }

    /// <summary>RFC 8461 4.1: an mx pattern is a name, or "*." and a name covering exactly one more left-most label.</summary>
    public static bool PatternMatches(string pattern, string host)
    {
        host = host.TrimEnd('.');
        pattern = pattern.TrimEnd('.');
        if (pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            var dot = host.IndexOf('.', StringComparison.Ordinal);
            return dot > 0 && host[(dot + 1)..].Equals(pattern[2..], StringComparison.OrdinalIgnoreCase);
        }

        return host.Equals(pattern, StringComparison.OrdinalIgnoreCase);
    }

    public bool Covers(string host) => Mx.Any(p => PatternMatches(p, host));
}
