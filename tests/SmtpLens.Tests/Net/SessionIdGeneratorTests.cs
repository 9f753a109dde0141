using System.Text.RegularExpressions;
using SmtpLens.Net;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Net;

public sealed partial class SessionIdGeneratorTests
{
    [Fact]
    public void Next_HasTheDocumentedShape()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 5, 30, 12, 345, TimeSpan.Zero));

        var id = new SessionIdGenerator(time).Next();

        Assert.Matches(IdShape(), id);
        // The counter is process-wide, so other tests' ids decide its value; the timestamp part is exact.
        Assert.StartsWith("20261122T053012345Z-", id, StringComparison.Ordinal);
    }

    [Fact]
    public void Next_ManyInTheSameMillisecondAndAfter_AreUniqueAndSortInCreationOrder()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 12, 31, 23, 59, 59, 998, TimeSpan.Zero));
        var generator = new SessionIdGenerator(time);
        var random = new Random(42);
        var ids = new List<string>();

        for (var i = 0; i < 5000; i++)
        {
            ids.Add(generator.Next());
            // Mostly the same millisecond, sometimes a step, across a second, a day and a year boundary.
            if (random.Next(10) == 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(random.Next(1, 1500)));
            }
        }

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        Assert.StartsWith("2025", ids[0], StringComparison.Ordinal);
        Assert.StartsWith("2026", ids[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Next_SameClockOnTwoGenerators_SharesTheInstanceTag()
    {
        var time = new FakeTimeProvider();

        var a = new SessionIdGenerator(time).Next();
        var b = new SessionIdGenerator(time).Next();

        // The tag tells processes apart, not generators: a process must share one generator (ProxyCommand does).
        Assert.Equal(a[^4..], b[^4..]);
        Assert.Matches("^[0-9a-f]{4}$", a[^4..]);
    }

    [Fact]
    public async Task Next_FromManyThreads_IsStillUnique()
    {
        var generator = new SessionIdGenerator(new FakeTimeProvider());

        var batches = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Enumerable.Range(0, 1000).Select(_ => generator.Next()).ToList())));

        Assert.Equal(8000, batches.SelectMany(b => b).Distinct(StringComparer.Ordinal).Count());
    }

    [GeneratedRegex(@"^\d{8}T\d{9}Z-\d{6}-[0-9a-f]{4}$")]
    private static partial Regex IdShape();
}
