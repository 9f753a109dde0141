namespace SmtpLens.Tests.Fuzz;

/// <summary>The loop itself must catch what it exists to catch, or every green fuzz target means nothing.</summary>
public sealed class FuzzLoopTests
{
    [Fact]
    public async Task A_Throwing_Check_Fails_With_The_Seed_And_The_Input()
    {
        var target = new FuzzTarget("self-test", [[1, 2, 3]], input => input.Length > 3 ? throw new FormatException("grew") : "ok");

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => FuzzLoop.RunAsync(target, 42));

        Assert.Contains("fuzz target self-test throws FormatException: grew", e.Message, StringComparison.Ordinal);
        Assert.Contains("SMTPLENS_FUZZ_SEED=42", e.Message, StringComparison.Ordinal);
        Assert.Matches(@"input \[0x[0-9A-F]{2}(, 0x[0-9A-F]{2}){3,}\]", e.Message);
    }

    [Fact]
    public async Task An_Input_That_Allocates_By_A_Length_Field_Fails()
    {
        var target = new FuzzTarget("self-test", [[0]], input => new byte[(input.Length == 0 ? 0 : input[0]) << 20].Length.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => FuzzLoop.RunAsync(target, 7));

        Assert.Contains("fuzz target self-test allocated", e.Message, StringComparison.Ordinal);
    }
}
