using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>How smtp-sink is started.</summary>
internal sealed record SmtpSinkOptions
{
    /// <summary>-h: name in the greeting and EHLO reply.</summary>
    public string Hostname { get; init; } = "smtp-sink";

    /// <summary>-v: log the SMTP conversation to <see cref="SmtpSink.Output"/>.</summary>
    public bool Verbose { get; init; } = true;

    /// <summary>Further smtp-sink flags, e.g. ["-p"] (no PIPELINING), ["-r", "rcpt"] or ["-q", "data"].</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// One mail transaction dumped by smtp-sink -d. <see cref="Content"/> is the DATA content as received
/// (dot-unstuffed, LF line ends, same form as <see cref="PostfixInstance.StoredForm"/>).
/// </summary>
internal sealed record SinkTransaction(string ClientAddress, string? Helo, string MailArgs, IReadOnlyList<string> RcptArgs, byte[] Raw, byte[] Content)
{
    public string ContentText => Encoding.Latin1.GetString(Content);
}

/// <summary>
/// Postfix's smtp-sink on 127.0.0.1:<see cref="Port"/>: an upstream that accepts everything and records each
/// transaction (envelope + content) with no queue, for cases where a full smtpd is in the way.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class SmtpSink : IAsyncDisposable
{
    private const string SinkCommand = "/usr/sbin/smtp-sink";
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly Lock gate = new();

    private SmtpSink(Process process, string root, int port)
    {
        this.process = process;
        RootDirectory = root;
        Port = port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string RootDirectory { get; }

    public string DumpDirectory => Path.Combine(RootDirectory, "dump");

    /// <summary>smtp-sink's stdout/stderr (the conversation when <see cref="SmtpSinkOptions.Verbose"/>).</summary>
    public string Output
    {
        get
        {
            lock (gate)
            {
                return output.ToString();
            }
        }
    }

    public static async Task<SmtpSink> StartAsync(SmtpSinkOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SmtpSinkOptions();
        if (!File.Exists(SinkCommand))
        {
            throw new InvalidOperationException($"{SinkCommand} missing. CI must run: {PostfixInstance.AptInstallLine}");
        }

        var root = Path.Combine("/tmp", "smtplens-sink-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(root, "dump"));
        File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        // As root smtp-sink must drop to -u nobody, which then creates the dump files.
        File.SetUnixFileMode(Path.Combine(root, "dump"), (UnixFileMode)0x1FF);

        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var startInfo = new ProcessStartInfo(SinkCommand)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (options.Verbose)
            {
                startInfo.ArgumentList.Add("-v");
            }

            if (OperatingSystem.IsLinux() && Libc.geteuid() == 0)
            {
                startInfo.ArgumentList.Add("-u");
                startInfo.ArgumentList.Add("nobody");
            }

            foreach (var argument in new[] { "-h", options.Hostname, "-d", Path.Combine(root, "dump") + "/%Y%m%d%H%M%S." })
            {
                startInfo.ArgumentList.Add(argument);
            }

            foreach (var argument in options.ExtraArguments)
            {
                startInfo.ArgumentList.Add(argument);
            }

            startInfo.ArgumentList.Add($"127.0.0.1:{port}");
            startInfo.ArgumentList.Add("64");

            var process = new Process { StartInfo = startInfo };
            var sink = new SmtpSink(process, root, port);
            process.OutputDataReceived += (_, e) => sink.Append(e.Data);
            process.ErrorDataReceived += (_, e) => sink.Append(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var failure = await sink.WaitForBannerAsync(options.StartTimeout, cancellationToken);
            if (failure is null)
            {
                return sink;
            }

            await sink.StopAsync();
            if (attempt < 3 && sink.Output.Contains("in use", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            await PostfixInstance.DeleteDirectoryAsync(root);
            throw new InvalidOperationException($"smtp-sink on 127.0.0.1:{port} did not start: {failure}\n--- smtp-sink output ---\n{sink.Output}");
        }
    }

    /// <summary>All complete transactions so far, once at least <paramref name="count"/> exist (ordered by time).</summary>
    public async Task<IReadOnlyList<SinkTransaction>> WaitForTransactionsAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var transactions = await ReadTransactionsAsync(cancellationToken);
            if (transactions.Count >= count)
            {
                return transactions;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException(
                    $"smtp-sink on {Host}:{Port} recorded {transactions.Count} of {count} transaction(s) within {timeout.TotalSeconds:0.#}s.\n--- smtp-sink output ---\n{Output}");
            }

            await Task.Delay(25, cancellationToken);
        }
    }

    /// <summary>Message contents (see <see cref="SinkTransaction.Content"/>) once at least <paramref name="count"/> arrived.</summary>
    public async Task<IReadOnlyList<byte[]>> WaitForMessagesAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        [.. (await WaitForTransactionsAsync(count, timeout, cancellationToken)).Select(t => t.Content)];

    public async Task<IReadOnlyList<SinkTransaction>> ReadTransactionsAsync(CancellationToken cancellationToken = default)
    {
        // smtp-sink keeps a dump file open until the transaction's "." arrives; skip those still open.
        var open = OpenFiles();
        var transactions = new List<SinkTransaction>();
        foreach (var file in new DirectoryInfo(DumpDirectory).GetFiles()
                     .Where(f => !open.Contains(f.FullName))
                     .OrderBy(f => f.LastWriteTimeUtc)
                     .ThenBy(f => f.Name, StringComparer.Ordinal))
        {
            transactions.Add(Parse(await File.ReadAllBytesAsync(file.FullName, cancellationToken)));
        }

        return transactions;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (Environment.GetEnvironmentVariable("SMTPLENS_KEEP_PEER_DIRS") != "1")
        {
            await PostfixInstance.DeleteDirectoryAsync(RootDirectory);
        }
    }

    /// <summary>
    /// Dump layout (smtp-sink(1)): X-Client-Addr/X-Client-Proto/X-Helo-Args/X-Mail-Args/X-Rcpt-Args lines, a
    /// three-line Received: header, the content, then one empty line.
    /// </summary>
    private static SinkTransaction Parse(byte[] raw)
    {
        string? client = null, helo = null, mail = null;
        var rcpts = new List<string>();
        var position = 0;
        while (position < raw.Length)
        {
            var newline = Array.IndexOf(raw, (byte)'\n', position);
            var end = newline < 0 ? raw.Length : newline;
            var line = Encoding.Latin1.GetString(raw, position, end - position);
            position = end + 1;
            if (line.StartsWith("Received: ", StringComparison.Ordinal))
            {
                // Skip the Received: continuation lines.
                while (position < raw.Length && (raw[position] == ' ' || raw[position] == '\t'))
                {
                    var next = Array.IndexOf(raw, (byte)'\n', position);
                    position = next < 0 ? raw.Length : next + 1;
                }

                break;
            }

            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            var value = colon < 0 ? "" : line[(colon + 2)..];
            switch (colon < 0 ? line : line[..colon])
            {
                case "X-Client-Addr":
                    client = value;
                    break;
                case "X-Helo-Args":
                    helo = value;
                    break;
                case "X-Mail-Args":
                    mail = value;
                    break;
                case "X-Rcpt-Args":
                    rcpts.Add(value);
                    break;
            }
        }

        // Drop the trailing empty line smtp-sink appends after the content.
        var contentEnd = raw.Length > position && raw[^1] == '\n' ? raw.Length - 1 : raw.Length;
        var content = raw[Math.Min(position, contentEnd)..contentEnd];
        return new SinkTransaction(client ?? "", helo, mail ?? "", rcpts, raw, content);
    }

    private HashSet<string> OpenFiles()
    {
        var open = new HashSet<string>(StringComparer.Ordinal);
        if (process.HasExited)
        {
            return open;
        }

        var fdDirectory = $"/proc/{process.Id.ToString(CultureInfo.InvariantCulture)}/fd";
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries(fdDirectory))
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget is { } target)
                    {
                        open.Add(target);
                    }
                }
                catch (IOException)
                {
                    // The descriptor closed while we looked.
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            // Process gone.
        }

        return open;
    }

    private async Task<string?> WaitForBannerAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var last = "no attempt";
        while (clock.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                return $"exited with {process.ExitCode}";
            }

            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                var banner = await SmtpWire.ProbeBannerAsync(Host, Port, attempt.Token);
                if (banner.StartsWith("220", StringComparison.Ordinal))
                {
                    return null;
                }

                last = "unexpected banner: " + banner;
            }
            catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex.Message;
            }

            await Task.Delay(50, cancellationToken);
        }

        return $"no 220 banner within {timeout.TotalSeconds:0.#}s ({last})";
    }

    private async Task StopAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        catch (TimeoutException)
        {
            // Leave it; the test run still ends.
        }
        finally
        {
            process.Dispose();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (gate)
        {
            output.Append(line).Append('\n');
        }
    }
}
