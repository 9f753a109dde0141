using SmtpLens.IO;

namespace SmtpLens.Tests.IO;

public sealed class QuietTimeMemoryTrimTests
{
    [Fact]
    public void TrimsOnce_AfterAQuietPeriodThatFollowsActivity()
    {
        var trims = 0;
        var trim = new QuietTimeMemoryTrim(() => trims++);

        Assert.False(trim.Tick()); // quiet from the start: nothing grew, nothing to give back
        trim.Observe();
        trim.Observe();
        Assert.False(trim.Tick()); // the period saw sessions
        Assert.True(trim.Tick());  // the next one was quiet
        Assert.False(trim.Tick()); // still quiet: once per quiet spell
        Assert.Equal(1, trims);

        trim.Observe();
        Assert.False(trim.Tick());
        Assert.True(trim.Tick());
        Assert.Equal(2, trims);
    }

    [Fact]
    public void NeverTrims_WhileEveryPeriodSeesActivity()
    {
        var trims = 0;
        var trim = new QuietTimeMemoryTrim(() => trims++);
        for (var i = 0; i < 100; i++)
        {
            trim.Observe();
            Assert.False(trim.Tick());
        }

        Assert.Equal(0, trims);
    }

    [Fact]
    public void AggressiveTrim_RunsAFullCollection()
    {
        var before = GC.CollectionCount(GC.MaxGeneration);
        QuietTimeMemoryTrim.Aggressive();
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > before);
    }
}
