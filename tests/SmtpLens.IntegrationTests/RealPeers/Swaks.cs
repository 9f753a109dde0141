using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>How swaks protects the session.</summary>
internal enum SwaksTls
{
    None,

    /// <summary>--tls: STARTTLS is required; swaks fails if the server does not offer it.</summary>
    StartTls,

    /// <summary>--tls-optional: STARTTLS if offered, plaintext otherwise.</summary>
    StartTlsOptional,

    /// <summary>--tls-on-connect: implicit TLS (SMTPS) from the first byte.</summary>
    TlsOnConnect,
}

/// <summary>
/// One swaks run. Exactly one of <see cref="Message"/>, <see cref="RawData"/> or <see cref="Body"/> (or none,
/// for swaks' default test message) describes the DATA content.
/// </summary>
internal sealed record SwaksOptions
{
    /// <summary>MAIL FROM address; "&lt;&gt;" sends the null reverse-path.</summary>
    public string From { get; init; } = "sender@client.test";

    public IReadOnlyList<string> To { get; init; } = ["rcpt@example.test"];

    /// <summary>EHLO argument; fixed so server logs and Received: headers are predictable.</summary>
    public string? Ehlo { get; init; } = "swaks.client.test";

    /// <summary>
    /// The message exactly as the client means it (RFC 5322, CRLF line ends, must end with CRLF). It is sent
    /// with --no-data-fixup, so the wire carries these bytes dot-stuffed, then ".\r\n", and nothing else.
    /// </summary>
    public byte[]? Message { get; init; }

    /// <summary>
    /// Bytes written verbatim after the 354 reply; swaks appends one CRLF. The caller owns dot-stuffing and
    /// the terminating "." (e.g. "...\r\n."), which is what tests probing odd terminators need.
    /// </summary>
    public byte[]? RawData { get; init; }

    /// <summary>Body text for swaks' generated message (swaks adds Date/To/From/Subject/Message-Id).</summary>
    public string? Body { get; init; }

    /// <summary>Extra header lines ("Name: value") added to swaks' generated message.</summary>
    public IReadOnlyList<string> Headers { get; init; } = [];

    public bool Pipeline { get; init; }

    public SwaksTls Tls { get; init; } = SwaksTls.None;

    /// <summary>--tls-protocol, e.g. "tlsv1_3" or "no_tlsv1_3".</summary>
    public string? TlsProtocol { get; init; }

    public bool TlsVerify { get; init; }

    public string? TlsCaPath { get; init; }

    public string? TlsSni { get; init; }

    public string? TlsCertificateFile { get; init; }

    public string? TlsKeyFile { get; init; }

    /// <summary>--auth mechanism, e.g. "PLAIN" or "LOGIN"; null means no AUTH.</summary>
    public string? AuthType { get; init; }

    public string? AuthUser { get; init; }

    public string? AuthPassword { get; init; }

    /// <summary>--quit-after stop point, e.g. "RCPT" or "STARTTLS".</summary>
    public string? QuitAfter { get; init; }

    /// <summary>swaks' own per-read/write timeout.</summary>
    public TimeSpan ProtocolTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Hard limit for the whole run; the process is killed after it.</summary>
    public TimeSpan ProcessTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Run swaks inside this network namespace (<c>ip netns exec</c>).</summary>
    public string? NetworkNamespace { get; init; }
}

/// <summary>Outcome of one swaks run; <see cref="ToString"/> is meant for assertion messages.</summary>
internal sealed record SwaksResult(int ExitCode, bool TimedOut, string Output, string StandardOutput, string StandardError, string CommandLine)
{
    public bool Succeeded => !TimedOut && ExitCode == 0;

    public override string ToString() =>
        $"swaks exit={ExitCode}{(TimedOut ? " (killed: timeout)" : "")}\n$ {CommandLine}\n{Output}";
}

/// <summary>Drives /usr/bin/swaks as an SMTP client.</summary>
[SupportedOSPlatform("linux")]
internal static class Swaks
{
    public const string Path = "/usr/bin/swaks";

    public static async Task<SwaksResult> SendAsync(string host, int port, SwaksOptions options, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Path))
        {
            throw new InvalidOperationException(
                $"{Path} not found. Install it with: {PostfixInstance.AptInstallLine}");
        }

        var dataSources = (options.Message is null ? 0 : 1) + (options.RawData is null ? 0 : 1) + (options.Body is null ? 0 : 1);
        if (dataSources > 1)
        {
            throw new ArgumentException("Set at most one of Message, RawData and Body.", nameof(options));
        }

        string? dataFile = null;
        try
        {
            var args = new List<string>
            {
                // No ~/.swaksrc or SWAKS_OPT_* surprises from the machine running the tests.
                "--config",
                "--server", host,
                "--port", port.ToString(CultureInfo.InvariantCulture),
                "--from", options.From,
                "--to", string.Join(',', options.To),
                "--timeout", $"{Math.Max(1, (int)options.ProtocolTimeout.TotalSeconds)}s",
            };

            if (options.Ehlo is not null)
            {
                args.AddRange(["--ehlo", options.Ehlo]);
            }

            // Content always travels through a file ("@path"): swaks would otherwise treat an inline argument
            // that happens to name an existing file as that file, and expands "\n" escapes in inline text.
            var content = options.Message is not null ? DotStuff(options.Message)
                : options.RawData ?? (options.Body is not null ? Encoding.UTF8.GetBytes(options.Body) : null);
            if (content is not null)
            {
                dataFile = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"smtplens-swaks-{Guid.NewGuid():N}.eml");
                await File.WriteAllBytesAsync(dataFile, content, cancellationToken);
                args.AddRange(options.Body is not null
                    ? ["--body", "@" + dataFile]
                    : ["--no-data-fixup", "--data", "@" + dataFile]);
            }

            foreach (var header in options.Headers)
            {
                args.AddRange(["--add-header", header]);
            }

            if (options.Pipeline)
            {
                args.Add("--pipeline");
            }

            switch (options.Tls)
            {
                case SwaksTls.StartTls:
                    args.Add("--tls");
                    break;
                case SwaksTls.StartTlsOptional:
                    args.Add("--tls-optional");
                    break;
                case SwaksTls.TlsOnConnect:
                    args.Add("--tls-on-connect");
                    break;
            }

            AddIfSet(args, "--tls-protocol", options.TlsProtocol);
            AddIfSet(args, "--tls-ca-path", options.TlsCaPath);
            AddIfSet(args, "--tls-sni", options.TlsSni);
            AddIfSet(args, "--tls-cert", options.TlsCertificateFile);
            AddIfSet(args, "--tls-key", options.TlsKeyFile);
            if (options.TlsVerify)
            {
                args.Add("--tls-verify");
            }

            AddIfSet(args, "--auth", options.AuthType);
            AddIfSet(args, "--auth-user", options.AuthUser);
            AddIfSet(args, "--auth-password", options.AuthPassword);
            AddIfSet(args, "--quit-after", options.QuitAfter);
            args.AddRange(options.ExtraArguments);

            var run = options.NetworkNamespace is { } ns
                ? await ChildProcess.RunAsync("/usr/sbin/ip", ["netns", "exec", ns, Path, .. args], options.ProcessTimeout, cancellationToken)
                : await ChildProcess.RunAsync(Path, args, options.ProcessTimeout, cancellationToken);

            // A missing package is a broken machine, not a protocol result: name the package.
            if (run.Output.Contains("not available: requires Net::SSLeay", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"swaks has no TLS support (Perl Net::SSLeay missing). CI must run: {PostfixInstance.AptInstallLine}\n{run.Output}");
            }

            return new SwaksResult(run.ExitCode, run.TimedOut, run.Output, run.StandardOutput, run.StandardError, run.CommandLine);
        }
        finally
        {
            if (dataFile is not null)
            {
                File.Delete(dataFile);
            }
        }
    }

    /// <summary>
    /// RFC 5321 4.5.2 transparency: a "." is doubled at the start of every line (after any LF, so bare-LF
    /// lines that Postfix also treats as line ends stay intact), then the ".\r\n" terminator is added minus
    /// its CRLF, which swaks appends.
    /// </summary>
    internal static byte[] DotStuff(byte[] message)
    {
        if (message.Length < 2 || message[^2] != '\r' || message[^1] != '\n')
        {
            throw new ArgumentException("Message must end with CRLF so the bytes on the wire are exactly the message plus \".\\r\\n\".", nameof(message));
        }

        var stuffed = new List<byte>(message.Length + 16);
        for (var i = 0; i < message.Length; i++)
        {
            if (message[i] == '.' && (i == 0 || message[i - 1] == '\n'))
            {
                stuffed.Add((byte)'.');
            }

            stuffed.Add(message[i]);
        }

        stuffed.Add((byte)'.');
        return [.. stuffed];
    }

    private static void AddIfSet(List<string> args, string option, string? value)
    {
        if (value is not null)
        {
            args.AddRange([option, value]);
        }
    }
}

/// <summary>Output of a finished (or killed) child process.</summary>
internal sealed record ChildProcessResult(int ExitCode, bool TimedOut, string Output, string StandardOutput, string StandardError, string CommandLine);

/// <summary>Runs external tools (swaks, postfix, sendmail) with captured output and a hard time limit.</summary>
internal static class ChildProcess
{
    public static async Task<ChildProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        byte[]? standardInput = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var name in startInfo.Environment.Keys.Where(k => k.StartsWith("SWAKS_", StringComparison.Ordinal) || k == "MAIL_CONFIG").ToList())
        {
            startInfo.Environment.Remove(name);
        }

        var commandLine = fileName + " " + string.Join(' ', startInfo.ArgumentList.Select(Quote));
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var combined = new StringBuilder();
        var gate = new Lock();

        using var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(e.Data, stdout);
        process.ErrorDataReceived += (_, e) => Append(e.Data, stderr);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {commandLine}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        if (standardInput is not null)
        {
            await process.StandardInput.BaseStream.WriteAsync(standardInput, cancellationToken);
            process.StandardInput.Close();
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = !cancellationToken.IsCancellationRequested;
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited between the timeout and the kill.
            }

            // Bounded: a grandchild that inherited our pipes must not hang the test run.
            process.WaitForExit(TimeSpan.FromSeconds(5));
            cancellationToken.ThrowIfCancellationRequested();
        }

        lock (gate)
        {
            return new ChildProcessResult(
                process.HasExited ? process.ExitCode : -1,
                timedOut,
                combined.ToString(),
                stdout.ToString(),
                stderr.ToString(),
                commandLine);
        }

        void Append(string? line, StringBuilder stream)
        {
            if (line is null)
            {
                return;
            }

            lock (gate)
            {
                stream.Append(line).Append('\n');
                combined.Append(line).Append('\n');
            }
        }
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+%[]<>".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
