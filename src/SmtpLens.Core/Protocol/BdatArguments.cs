namespace SmtpLens.Protocol;

/// <summary>RFC 3030: <c>BDAT chunk-size [LAST]</c>.</summary>
internal readonly record struct BdatArguments(long ChunkSize, bool Last)
{
    /// <summary>Largest chunk we believe; anything bigger is a broken or hostile length.</summary>
    public const long MaxChunkSize = 1L << 40;

    public static bool TryParse(string arguments, out BdatArguments bdat)
    {
        bdat = default;
        var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 1 or > 2 || parts[0].Length > 13 || !parts[0].All(char.IsAsciiDigit))
        {
            return false;
        }

        var size = long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        if (size > MaxChunkSize)
        {
            return false;
        }

        var last = parts.Length == 2;
        if (last && !parts[1].Equals("LAST", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        bdat = new BdatArguments(size, last);
        return true;
    }
}
