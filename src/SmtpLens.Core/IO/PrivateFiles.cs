namespace SmtpLens.IO;

/// <summary>Files that hold decrypted mail or secrets (transcripts, captured messages, findings, key logs, private keys):
/// created with a restrictive mode from the first byte, never chmod-ed after being written world-readable.</summary>
internal static class PrivateFiles
{
    /// <summary>0600: owner read and write only.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Opens (or creates with <paramref name="mode"/>) a file; on Windows the mode is ignored.</summary>
    public static FileStream Open(string path, FileMode fileMode, UnixFileMode mode = OwnerOnly, FileShare share = FileShare.Read, int bufferSize = 4096)
    {
        var options = new FileStreamOptions { Mode = fileMode, Access = FileAccess.Write, Share = share, BufferSize = bufferSize };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        return new FileStream(path, options);
    }

    /// <summary>An existing file keeps its mode on open; files with secrets are brought to <paramref name="mode"/> either way.</summary>
    public static void Restrict(string path, UnixFileMode mode = OwnerOnly)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    /// <summary>Creates a directory for such files: the file mode plus search (x) wherever it grants read, so 0600 gives 0700.
    /// A directory that already exists is left as its owner made it.</summary>
    public static void CreateDirectory(string path, UnixFileMode fileMode = OwnerOnly)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, DirectoryMode(fileMode));
    }

    public static UnixFileMode DirectoryMode(UnixFileMode fileMode) =>
        fileMode
        | (fileMode.HasFlag(UnixFileMode.UserRead) ? UnixFileMode.UserExecute : 0)
        | (fileMode.HasFlag(UnixFileMode.GroupRead) ? UnixFileMode.GroupExecute : 0)
        | (fileMode.HasFlag(UnixFileMode.OtherRead) ? UnixFileMode.OtherExecute : 0);

    /// <summary>Parses an octal mode such as <c>0640</c>; the owner must keep read and write, and nothing beyond rw bits is accepted.</summary>
    public static UnixFileMode ParseMode(string text)
    {
        const int Allowed = 0b110_110_110;
        var digits = text.Trim();
        int value;
        try
        {
            value = Convert.ToInt32(digits, 8);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw new FormatException($"file mode \"{text}\" is not an octal mode such as 0600 or 0640", e);
        }

        if (digits.Length == 0 || (value & ~Allowed) != 0 || (value & 0b110_000_000) != 0b110_000_000)
        {
            throw new FormatException($"file mode \"{text}\" must give the owner read and write and use only read/write bits (for example 0600, 0640, 0660)");
        }

        return (UnixFileMode)value;
    }

    public static string Format(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8).PadLeft(3, '0');
}
