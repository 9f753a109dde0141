namespace SmtpLens.Tests.Support;

/// <summary>The repository checkout the tests were built from, for tests that read its sources and docs.</summary>
internal static class SourceTree
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SmtpLens.sln")) && File.Exists(Path.Combine(dir.FullName, "README.md")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("no SmtpLens.sln above " + AppContext.BaseDirectory);
    }
}
