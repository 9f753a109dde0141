using SmtpLens.Protocol;

namespace SmtpLens.Tests.Protocol;

public sealed class BdatArgumentsTests
{
    [Theory]
    [InlineData("0", 0L, false)]
    [InlineData("100", 100L, false)]
    [InlineData("100 LAST", 100L, true)]
    [InlineData("100 last", 100L, true)]
    [InlineData("  42   LAST  ", 42L, true)]
    [InlineData("0000000000007", 7L, false)]
    [InlineData("1099511627776", 1099511627776L, false)]
    public void TryParse_Valid_GivesSizeAndLast(string arguments, long size, bool last)
    {
        Assert.True(BdatArguments.TryParse(arguments, out var bdat));

        Assert.Equal(new BdatArguments(size, last), bdat);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-5")]
    [InlineData("+5")]
    [InlineData("5.0")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData("99999999999999")]
    [InlineData("1099511627777")]
    [InlineData("10 LSAT")]
    [InlineData("10 LAST LAST")]
    [InlineData("LAST")]
    [InlineData("\u0661\u0662")]
    public void TryParse_Unusable_Fails(string arguments)
    {
        Assert.False(BdatArguments.TryParse(arguments, out var bdat));
        Assert.Equal(default, bdat);
    }
}
