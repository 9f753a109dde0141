using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SmtpLens.IntegrationTests.Cli;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>
/// What one view of one TLS handshake says was negotiated: IANA suite names, groups as the TLS registry names
/// them (x25519, secp256r1), null where that view does not show a field.
/// </summary>
internal sealed record NegotiatedTls(string? Version, string? Suite, string? Group, bool? HelloRetry)
{
    /// <summary>Two views of the same handshake (client's and server's) combined; they must not contradict.</summary>
    public NegotiatedTls Merge(NegotiatedTls other, string what)
    {
        return new NegotiatedTls(Pick(Version, other.Version), Pick(Suite, other.Suite), Pick(Group, other.Group), Pick(HelloRetry, other.HelloRetry));

        T? Pick<T>(T? mine, T? theirs)
        {
            Assert.True(mine is null || theirs is null || Equals(mine, theirs), $"{what}: the two ends disagree: {this} vs {other}");
            return mine ?? theirs;
        }
    }

    public override string ToString() =>
        $"{Version ?? "?"} {Suite ?? "?"} {Group ?? "(group not shown)"}{HelloRetry switch { true => ", HRR", false => ", no HRR", null => string.Empty }}";
}

/// <summary>Reads each peer's own report of its handshake, and SmtpLens's handshake records.</summary>
[SupportedOSPlatform("linux")]
internal static class TlsViews
{
    private static readonly Lock NamesGate = new();
    private static Task<IReadOnlyDictionary<string, string>>? _openSslNames;

    /// <summary><c>openssl s_client</c>: "New, TLSv1.3, Cipher is ...", "Server Temp Key:"; with -msg, a second ClientHello means HRR.</summary>
    public static async Task<NegotiatedTls> OpenSslClientAsync(string output, bool traced)
    {
        var version = Match(output, @"^New, (TLSv1\.\d), Cipher is \S+");
        var suite = Match(output, @"^New, TLSv1\.\d, Cipher is (\S+)");
        var tempKey = Match(output, @"^Server Temp Key: (.+)$");
        var group = tempKey is null ? null : Group(tempKey.StartsWith("ECDH, ", StringComparison.Ordinal) || tempKey.StartsWith("DH, ", StringComparison.Ordinal) ? tempKey.Split(", ")[1] : tempKey.Split(',')[0]);
        bool? retry = traced ? Regex.Count(output, @"^>>> .*, ClientHello$", RegexOptions.Multiline) > 1 : null;
        return new NegotiatedTls(version, await SuiteAsync(suite), group, retry);
    }

    /// <summary>swaks: "TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384:256" (no group).</summary>
    public static async Task<NegotiatedTls> SwaksAsync(string output)
    {
        var m = Regex.Match(output, @"TLS started with cipher (TLSv1\.\d):([^:\s]+):");
        Assert.True(m.Success, "no 'TLS started with cipher' in swaks output:\n" + output);
        return new NegotiatedTls(m.Groups[1].Value, await SuiteAsync(m.Groups[2].Value), null, null);
    }

    /// <summary>gnutls-cli -V: "- Version: TLS1.3", "- Key Exchange: ECDHE-RSA", "- Cipher: AES-256-GCM" and the group
    /// inside "- Description: (TLS1.3-X.509)-(ECDHE-X25519)-...".</summary>
    public static NegotiatedTls GnuTls(string output)
    {
        Assert.True(output.Contains("- Handshake was completed", StringComparison.Ordinal), "gnutls-cli did not complete its handshake:\n" + output);
        var version = Match(output, @"^- Version: (TLS1\.\d)$")?.Replace("TLS1.", "TLSv1.", StringComparison.Ordinal);
        var cipher = Match(output, @"^- Cipher: (\S+)$");
        var exchange = Match(output, @"^- Key Exchange: (\S+)$");
        var group = Match(output, @"^- Description: \([^)]*\)-\((?:ECDHE|DHE)-([^)]+)\)");
        var (bulk, hash) = cipher switch
        {
            "AES-128-GCM" => ("AES_128_GCM", "SHA256"),
            "AES-256-GCM" => ("AES_256_GCM", "SHA384"),
            "CHACHA20-POLY1305" => ("CHACHA20_POLY1305", "SHA256"),
            _ => throw new InvalidOperationException($"gnutls cipher '{cipher}' has no mapping here:\n{output}"),
        };
        var suite = version == "TLSv1.3" ? $"TLS_{bulk}_{hash}" : $"TLS_{exchange?.Replace('-', '_')}_WITH_{bulk}_{hash}";
        return new NegotiatedTls(version, suite, group is null ? null : Group(group), null);
    }

    /// <summary>Postfix smtpd/smtp "TLS connection established ...: TLSv1.3 with cipher X (256/256 bits) key-exchange X25519 ...";
    /// an EC group other than X25519/X448 is logged as "key-exchange ECDHE (prime256v1)", finite-field DH by its size only.</summary>
    public static async Task<NegotiatedTls> PostfixAsync(string line)
    {
        var m = Regex.Match(line, @": (TLSv1\.\d) with cipher (\S+) \(\d+/\d+ bits\)(?: key-exchange (\S+)(?: \(([^)]*)\))?)?");
        Assert.True(m.Success, "not a Postfix TLS line: " + line);
        var detail = m.Groups[4].Success && !m.Groups[4].Value.EndsWith("bits", StringComparison.Ordinal) ? m.Groups[4].Value : null;
        var exchange = m.Groups[3].Success && m.Groups[3].Value is not ("ECDHE" or "DHE") ? m.Groups[3].Value : null;
        var group = detail ?? exchange;
        return new NegotiatedTls(m.Groups[1].Value, await SuiteAsync(m.Groups[2].Value), group is null ? null : Group(group), null);
    }

    /// <summary>
    /// <c>openssl s_server -trace</c>: the ServerHellos it sent (the HelloRetryRequest random marks a retry), the
    /// suite and version of the last, and the group of its key share or, in TLS 1.2, of the ServerKeyExchange.
    /// </summary>
    public static NegotiatedTls OpenSslServerTrace(string output)
    {
        var hellos = Regex.Split(output, @"^\s+ServerHello, Length=", RegexOptions.Multiline).Skip(1)
            .Select(block => block.Split("\nSent Record", 2)[0].Split("\nReceived Record", 2)[0])
            .ToList();
        Assert.True(hellos.Count > 0, "no ServerHello in the s_server trace:\n" + output);
        var final = hellos[^1];
        var retry = hellos.Count > 1 && hellos[0].Contains("gmt_unix_time=0xCF21AD74", StringComparison.Ordinal)
            && hellos[0].Contains("E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C", StringComparison.Ordinal);
        var suite = Match(final, @"cipher_suite \{0x[0-9A-Fa-f]+, 0x[0-9A-Fa-f]+\} (\S+)");
        var version = Regex.IsMatch(final, @"supported_versions\(43\), length=2\s+TLS 1\.3 \(772\)") ? "TLSv1.3" : Match(final, @"server_version=0x303 \(TLS 1\.2\)") is null ? null : "TLSv1.2";
        var group = version == "TLSv1.3" ? Match(final, @"NamedGroup: (\S+)") : Match(output, @"named_curve: (\S+)");
        return new NegotiatedTls(version, suite, group is null ? null : Group(group), retry);
    }

    /// <summary>SmtpLens's record of one leg, from the transcript's tls event.</summary>
    public static NegotiatedTls Leg(JsonElement leg)
    {
        Assert.True(leg.GetProperty("completed").GetBoolean(), "leg not completed: " + leg);
        var group = leg.GetProperty("group");
        return new NegotiatedTls(
            leg.GetProperty("version").GetString(),
            leg.GetProperty("cipherSuite").GetString(),
            group.ValueKind == JsonValueKind.String ? group.GetString() : null,
            leg.GetProperty("helloRetryRequest").GetBoolean());
    }

    /// <summary>The TLS registry's name for a group, from the spellings OpenSSL, GnuTLS and Postfix use.</summary>
    public static string Group(string name) => name.Trim().ToLowerInvariant() switch
    {
        "x25519" or "ecdh_x25519" => "x25519",
        "x448" or "ecdh_x448" => "x448",
        "prime256v1" or "p-256" or "secp256r1" => "secp256r1",
        "p-384" or "secp384r1" => "secp384r1",
        "p-521" or "secp521r1" => "secp521r1",
        var other => other,
    };

    /// <summary>IANA name of a suite given by its OpenSSL name, using openssl's own table (ciphers -stdname).</summary>
    private static async Task<string?> SuiteAsync(string? name)
    {
        if (name is null || name.StartsWith("TLS_", StringComparison.Ordinal))
        {
            return name;
        }

        Task<IReadOnlyDictionary<string, string>> loading;
        lock (NamesGate)
        {
            loading = _openSslNames ??= LoadOpenSslNamesAsync();
        }

        var names = await loading;
        return names.TryGetValue(name, out var iana) ? iana : throw new InvalidOperationException($"openssl ciphers -stdname does not list {name}");
    }

    private static async Task<IReadOnlyDictionary<string, string>> LoadOpenSslNamesAsync()
    {
        var run = await OpenSsl.RunAsync(["ciphers", "-stdname", "ALL:@SECLEVEL=0"]);
        Assert.True(run.ExitCode == 0, run.Output);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 3 && parts[1] == "-")
            {
                names[parts[2]] = parts[0];
            }
        }

        return names;
    }

    private static string? Match(string text, string pattern)
    {
        var m = Regex.Match(text, pattern, RegexOptions.Multiline);
        return m.Success ? m.Groups[1].Value.TrimEnd('\r') : null;
    }
}

/// <summary>The real <c>smtplens proxy</c> executable, intercepting toward one upstream, transcripts in its own directory.</summary>
[SupportedOSPlatform("linux")]
internal sealed class InterceptingProxy : IAsyncDisposable
{
    /// <summary>
    /// The TLS options of every parity run, in one place: the defaults, since parity is about what SmtpLens does
    /// out of the box (TLS 1.3 on both legs, the upstream offered what the client offered).
    /// </summary>
    public static readonly IReadOnlyList<string> TlsArguments = ["--tls", "intercept"];

    private readonly SmtplensProcess _process;
    private readonly string _transcripts;

    private InterceptingProxy(SmtplensProcess process, string transcripts, int port)
    {
        _process = process;
        _transcripts = transcripts;
        Port = port;
    }

    public int Port { get; }

    public string Log => _process.Stderr;

    public static async Task<InterceptingProxy> StartAsync(string caDirectory, string workDirectory, int upstreamPort, bool implicitTls = false)
    {
        var transcripts = Path.Combine(workDirectory, "transcripts-" + Guid.NewGuid().ToString("N")[..8]);
        string[] args =
        [
            "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:" + upstreamPort.ToString(CultureInfo.InvariantCulture),
            "--transcripts", transcripts, "--ca-dir", caDirectory, .. TlsArguments, .. implicitTls ? new[] { "--implicit-tls" } : [],
        ];
        var process = SmtplensProcess.Start(args);
        try
        {
            var ready = await process.WaitForLogAsync(@"listener listener1 on 127\.0\.0\.1:(\d+)", TimeSpan.FromSeconds(60));
            return new InterceptingProxy(process, transcripts, int.Parse(ready.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>The client and upstream leg records of the first session, once it has ended.</summary>
    public async Task<(JsonElement Client, JsonElement Upstream)> WaitForLegsAsync()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            foreach (var file in Directory.Exists(_transcripts) ? Directory.GetFiles(_transcripts, "*.jsonl") : [])
            {
                var lines = (await File.ReadAllLinesAsync(file)).Where(l => l.StartsWith('{') && l.EndsWith('}')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
                if (!lines.Any(e => e.GetProperty("kind").GetString() == "summary"))
                {
                    continue;
                }

                var legs = lines
                    .Where(e => e.GetProperty("kind").GetString()!.StartsWith("tls", StringComparison.Ordinal) && e.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("leg", out _) && d.TryGetProperty("completed", out _))
                    .Select(e => e.GetProperty("data"))
                    .ToList();
                var client = legs.Where(l => l.GetProperty("leg").GetString() == "client").ToList();
                var upstream = legs.Where(l => l.GetProperty("leg").GetString() == "upstream").ToList();
                Assert.True(client.Count == 1 && upstream.Count == 1, $"expected one record per leg in {file}:\n{await File.ReadAllTextAsync(file)}");
                return (client[0], upstream[0]);
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no finished session in {_transcripts}; proxy log:\n{Log}");
    }

    public async ValueTask DisposeAsync() => await _process.DisposeAsync();
}

/// <summary>
/// <c>openssl s_server</c> as an implicit-TLS (port 465 style) upstream for one connection: it greets with a 220
/// written to its stdin, and -trace shows every handshake message it sent.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class OpenSslServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();

    private OpenSslServer(Process process, int port)
    {
        _process = process;
        Port = port;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
    }

    public int Port { get; }

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<OpenSslServer> StartAsync(string certificateFile, string keyFile, IReadOnlyList<string> options)
    {
        var failures = new StringBuilder();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            // FreePort releases the port before s_server binds it: retry on a lost race.
            var port = FreePort.Next();
            var start = new ProcessStartInfo(OpenSsl.Path) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in (string[])["s_server", "-accept", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "-cert", certificateFile, "-key", keyFile, "-naccept", "1", "-trace", .. options])
            {
                start.ArgumentList.Add(argument);
            }

            var server = new OpenSslServer(Process.Start(start)!, port);
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();

            // Read once the connection is up; stdin stays open, since s_server ends the connection at its EOF.
            await server._process.StandardInput.WriteAsync("220 sserver.parity.test ESMTP openssl s_server\r\n");
            await server._process.StandardInput.FlushAsync();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(20) && !server._process.HasExited && !server.Output.Contains("ACCEPT", StringComparison.Ordinal))
            {
                await Task.Delay(25);
            }

            if (server.Output.Contains("ACCEPT", StringComparison.Ordinal) && !server._process.HasExited)
            {
                return server;
            }

            failures.Append(server.Output).Append('\n');
            await server.DisposeAsync();
        }

        throw new InvalidOperationException("openssl s_server did not start:\n" + failures);
    }

    /// <summary>Its whole output, once the one connection it accepts has ended.</summary>
    public async Task<string> FinishAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        // The asynchronous readers may still hold the last lines.
        _process.WaitForExit(TimeSpan.FromSeconds(5));
        return Output;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.Append(line).Append('\n');
        }
    }
}

/// <summary>gnutls-cli, GnuTLS's command-line client (Debian package gnutls-bin).</summary>
[SupportedOSPlatform("linux")]
internal static class GnuTlsCli
{
    public const string Path = "/usr/bin/gnutls-cli";

    /// <summary>EHLO, STARTTLS and the handshake by gnutls-cli itself, then QUIT; -V prints what was negotiated.</summary>
    public static Task<ChildProcessResult> StartTlsAsync(int port)
    {
        if (!File.Exists(Path))
        {
            throw new InvalidOperationException($"{Path} not found. CI must run: apt-get install -y --no-install-recommends gnutls-bin");
        }

        return ChildProcess.RunAsync(
            Path,
            ["--starttls-proto=smtp", "--insecure", "--crlf", "-V", "-p", port.ToString(CultureInfo.InvariantCulture), "127.0.0.1"],
            TimeSpan.FromSeconds(30),
            CancellationToken.None,
            Encoding.ASCII.GetBytes("QUIT\n"));
    }
}

/// <summary>The rows of one parity test, printed as a table: each view, direct against through SmtpLens.</summary>
internal sealed class ParityTable(string peer)
{
    private readonly List<(string View, NegotiatedTls Direct, NegotiatedTls Proxied)> _rows = [];

    public void Add(string view, NegotiatedTls direct, NegotiatedTls proxied) => _rows.Add((view, direct, proxied));

    public override string ToString()
    {
        var width = Math.Max(28, _rows.Max(r => r.View.Length));
        var direct = Math.Max(10, _rows.Max(r => r.Direct.ToString().Length));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{peer}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"view".PadRight(width)} | {"direct".PadRight(direct)} | through SmtpLens");
        foreach (var (view, d, p) in _rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {view.PadRight(width)} | {d.ToString().PadRight(direct)} | {p}{(Same(d, p) ? string.Empty : "   <-- differs")}");
        }

        return text.ToString();
    }

    /// <summary>Equal on every field both sides show.</summary>
    public static bool Same(NegotiatedTls direct, NegotiatedTls proxied) =>
        Field(direct.Version, proxied.Version) && Field(direct.Suite, proxied.Suite) && Field(direct.Group, proxied.Group) && Field(direct.HelloRetry, proxied.HelloRetry);

    private static bool Field<T>(T? a, T? b) => a is null || b is null || Equals(a, b);
}
