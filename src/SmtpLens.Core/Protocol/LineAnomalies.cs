namespace SmtpLens.Protocol;

/// <summary>Deviations from RFC 5321 line syntax that MTAs handle differently.</summary>
[Flags]
internal enum LineAnomalies
{
    None = 0,

    /// <summary>Terminated by LF without CR.</summary>
    BareLf = 1,

    /// <summary>A CR not followed by LF inside the line.</summary>
    BareCr = 2,

    /// <summary>A NUL byte.</summary>
    Nul = 4,

    /// <summary>Bytes above 0x7F in a command or reply line.</summary>
    EightBit = 8,
}

internal static class LineAnomaliesText
{
    public static string Describe(this LineAnomalies anomalies)
    {
        var parts = new List<string>(4);
        if (anomalies.HasFlag(LineAnomalies.BareLf))
        {
            parts.Add("bare LF line ending");
        }

        if (anomalies.HasFlag(LineAnomalies.BareCr))
        {
            parts.Add("bare CR");
        }

        if (anomalies.HasFlag(LineAnomalies.Nul))
        {
            parts.Add("NUL byte");
        }

        if (anomalies.HasFlag(LineAnomalies.EightBit))
        {
            parts.Add("8-bit bytes");
        }

        return string.Join(", ", parts);
    }
}
