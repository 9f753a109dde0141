using System.Globalization;

namespace SmtpLens.Net;

/// <summary>Session ids that sort by start time: <c>20261122T053012345Z-000042-7f3a</c>.</summary>
/// <remarks>The counter orders sessions that start in the same millisecond; the suffix tells instances apart
/// when transcripts from several proxies are merged.</remarks>
internal sealed class SessionIdGenerator(TimeProvider time)
{
    private static readonly string InstanceTag = Random.Shared.Next(0x10000).ToString("x4", CultureInfo.InvariantCulture);
    // Process-wide, so two generators never hand out the same id in the same millisecond.
    private static long _counter;

    public string Next()
    {
        var n = Interlocked.Increment(ref _counter);
        var ts = time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        return $"{ts}-{n:D6}-{InstanceTag}";
    }
}
