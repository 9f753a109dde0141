using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SmtpLens.IntegrationTests.RealPeers;

/// <summary>How a private Postfix instance is configured.</summary>
internal sealed record PostfixOptions
{
    /// <summary>DNS label for myhostname "&lt;Name&gt;-&lt;port&gt;.harness.smtplens.test" (shows in Received: and logs).</summary>
    public string Name { get; init; } = "postfix";

    /// <summary>
    /// Null: every recipient is delivered to files under the instance (see <see cref="PostfixInstance.WaitForDeliveriesAsync"/>).
    /// Set (e.g. "[127.0.0.1]:2525", see <see cref="Nexthop"/>): every recipient is relayed there by Postfix's smtp client.
    /// </summary>
    public string? RelayHost { get; init; }

    /// <summary>Extra main.cf parameters; they win over the harness defaults (e.g. smtpd_discard_ehlo_keywords = starttls).</summary>
    public IReadOnlyDictionary<string, string> MainCf { get; init; } = new Dictionary<string, string>();

    /// <summary>PEM certificate (chain) for smtpd; with <see cref="TlsKeyFile"/> it turns on STARTTLS (security level "may").</summary>
    public string? TlsCertificateFile { get; init; }

    /// <summary>PEM private key for <see cref="TlsCertificateFile"/>; read by smtpd while still root, so 0600 root is fine.</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>
    /// Generate a self-signed ECDSA certificate (SAN *.harness.smtplens.test and IP 127.0.0.1) under the instance
    /// and use it like <see cref="TlsCertificateFile"/>; clients find it at <see cref="PostfixInstance.CertificatePath"/>.
    /// </summary>
    public bool SelfSignedTls { get; init; }

    /// <summary>Run master (and so smtpd) inside this network namespace (<c>ip netns exec</c>); null for the host's.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>The address smtpd listens on (inet_interfaces); inside a namespace, one of its addresses.</summary>
    public string ListenAddress { get; init; } = "127.0.0.1";

    /// <summary>A fixed port (e.g. 25 inside a private namespace); null picks a free loopback port.</summary>
    public int? ListenPort { get; init; }

    /// <summary>smtpd_upstream_proxy_protocol = haproxy: smtpd expects a PROXY header (the banner probe sends one).</summary>
    public bool ExpectProxyProtocol { get; init; }

    /// <summary>Limit for "postfix start" plus the first 220 banner.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public static string Nexthop(string host, int port) => $"[{host}]:{port}";
}

/// <summary>
/// One delivery by a sink-mode instance: one file per recipient (capture_destination_recipient_limit = 1).
/// <see cref="Raw"/> is what Postfix's pipe(8) handed over: the stored message, LF line ends, with the
/// Received: fields every harness Postfix on the path prepended.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed record DeliveredMessage(string QueueId, string Sender, string Recipient, byte[] Raw)
{
    /// <summary>
    /// <see cref="Raw"/> minus the leading Received: fields added by harness Postfix instances. Compare it with
    /// <see cref="PostfixInstance.StoredForm"/> of the bytes the client sent: the two are equal when the message
    /// arrived intact.
    /// </summary>
    public byte[] Content => PostfixInstance.StripHarnessReceived(Raw);

    /// <summary>Latin-1 keeps one char per byte, so string assertions never hide an encoding change.</summary>
    public string ContentText => Encoding.Latin1.GetString(Content);
}

/// <summary>
/// A private Postfix (master + smtpd + qmgr + pipe, all from the Debian package) under /tmp/smtplens-postfix-*,
/// listening only on 127.0.0.1:<see cref="Port"/>. It never reads or writes /etc/postfix's configuration: everything
/// lives in its own config, queue, data, mail and log directories, removed again by <see cref="DisposeAsync"/>.
/// Needs root, as in CI: master must start as root to drop to mail_owner.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class PostfixInstance : IAsyncDisposable
{
    /// <summary>What CI needs on a fresh Debian 12 (libnet-ssleay-perl gives swaks its TLS).</summary>
    public const string AptInstallLine =
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix swaks libnet-ssleay-perl";

    /// <summary>Every harness hostname ends in this; <see cref="StripHarnessReceived"/> keys on it.</summary>
    public const string HarnessDomain = "harness.smtplens.test";

    private const string PostfixCommand = "/usr/sbin/postfix";
    private const string SendmailCommand = "/usr/sbin/sendmail";
    private const string MasterDaemon = "/usr/lib/postfix/sbin/master";
    private const string PipeUser = "nobody";
    private const int StartAttempts = 3;

    private int masterPid;
    private bool disposed;

    private PostfixInstance(string root, PostfixOptions options)
    {
        RootDirectory = root;
        Options = options;
    }

    public string Host => Options.ListenAddress;

    public int Port { get; private set; }

    /// <summary>myhostname: the name in the 220 banner, the EHLO reply and the EHLO this instance's smtp client sends.</summary>
    public string Hostname { get; private set; } = "";

    /// <summary>The options in force; with <see cref="PostfixOptions.SelfSignedTls"/> they name the generated files.</summary>
    public PostfixOptions Options { get; private set; }

    public string RootDirectory { get; }

    public string ConfigDirectory => Path.Combine(RootDirectory, "etc");

    public string QueueDirectory => Path.Combine(RootDirectory, "spool");

    /// <summary>Delivered messages land in new/ as QUEUEID.PID.eml with an envelope sidecar QUEUEID.PID.env.</summary>
    public string MailDirectory => Path.Combine(RootDirectory, "mail");

    /// <summary>The PEM certificate smtpd presents, or null without TLS (pass to swaks --tls-ca-path or smtp_tls_CAfile).</summary>
    public string? CertificatePath => Options.TlsCertificateFile;

    /// <summary>Postfix's maillog_file, written by postlogd (no syslog in containers).</summary>
    public string LogPath => Path.Combine(RootDirectory, "log", "postfix.log");

    /// <summary>How long "postfix start" and the first banner took, for test output.</summary>
    public string StartupReport { get; private set; } = "";

    public static Task<PostfixInstance> StartRelayAsync(string host, int port, PostfixOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync((options ?? new PostfixOptions { Name = "relay" }) with { RelayHost = PostfixOptions.Nexthop(host, port) }, cancellationToken);

    public static async Task<PostfixInstance> StartAsync(PostfixOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostfixOptions();
        EnsurePrerequisites();
        if (options.Name.Length is 0 or > 40 || !options.Name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw new ArgumentException($"Name '{options.Name}' must be a short lowercase DNS label.", nameof(options));
        }

        if ((options.TlsCertificateFile is null) != (options.TlsKeyFile is null))
        {
            throw new ArgumentException("Set both TlsCertificateFile and TlsKeyFile, or neither.", nameof(options));
        }

        if (options.SelfSignedTls && options.TlsCertificateFile is not null)
        {
            throw new ArgumentException("SelfSignedTls and TlsCertificateFile exclude each other.", nameof(options));
        }

        var instance = new PostfixInstance(CreateRootDirectory(), options);
        try
        {
            await instance.StartMasterAsync(cancellationToken);
            return instance;
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The form Postfix stores and delivers a message in: each CRLF becomes LF (smtpd strips the CR of every
    /// line; a bare CR inside a line is kept). This is the only change the harness expects on an intact path.
    /// </summary>
    public static byte[] StoredForm(ReadOnlySpan<byte> sent)
    {
        var stored = new List<byte>(sent.Length);
        for (var i = 0; i < sent.Length; i++)
        {
            if (sent[i] == '\r' && i + 1 < sent.Length && sent[i + 1] == '\n')
            {
                continue;
            }

            stored.Add(sent[i]);
        }

        return [.. stored];
    }

    /// <summary>
    /// Removes the leading Received: fields whose text contains ".harness.smtplens.test (Postfix)", i.e. those a
    /// harness Postfix prepended, and nothing else: a client's own Received: fields stay.
    /// </summary>
    public static byte[] StripHarnessReceived(byte[] raw)
    {
        var marker = $".{HarnessDomain} (Postfix)";
        var position = 0;
        while (position < raw.Length && StartsWithIgnoreCase(raw, position, "Received:"))
        {
            var end = FieldEnd(raw, position);
            if (!Encoding.Latin1.GetString(raw, position, end - position).Contains(marker, StringComparison.Ordinal))
            {
                break;
            }

            position = end;
        }

        return raw[position..];
    }

    /// <summary>Everything delivered so far, once at least <paramref name="count"/> deliveries exist (ordered by delivery time).</summary>
    public async Task<IReadOnlyList<DeliveredMessage>> WaitForDeliveriesAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var deliveries = await ReadDeliveriesAsync(cancellationToken);
            if (deliveries.Count >= count)
            {
                return deliveries;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException(
                    $"Postfix {Hostname} delivered {deliveries.Count} of {count} expected message(s) within {timeout.TotalSeconds:0.#}s.\n{await DescribeAsync(cancellationToken)}");
            }

            await Task.Delay(25, cancellationToken);
        }
    }

    /// <summary>Raw delivered messages (see <see cref="DeliveredMessage.Raw"/>); use <see cref="WaitForDeliveriesAsync"/> for envelopes.</summary>
    public async Task<IReadOnlyList<byte[]>> WaitForMessagesAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        [.. (await WaitForDeliveriesAsync(count, timeout, cancellationToken)).Select(d => d.Raw)];

    public async Task<IReadOnlyList<DeliveredMessage>> ReadDeliveriesAsync(CancellationToken cancellationToken = default)
    {
        var newDirectory = Path.Combine(MailDirectory, "new");

        // The capture script renames .env before .eml, so a visible .eml always has its envelope.
        var files = new DirectoryInfo(newDirectory).GetFiles("*.eml")
            .OrderBy(f => f.LastWriteTimeUtc)
            .ThenBy(f => f.Name, StringComparer.Ordinal)
            .ToList();
        var deliveries = new List<DeliveredMessage>(files.Count);
        foreach (var file in files)
        {
            var envelope = await File.ReadAllLinesAsync(Path.ChangeExtension(file.FullName, ".env"), cancellationToken);
            deliveries.Add(new DeliveredMessage(
                file.Name[..file.Name.IndexOf('.', StringComparison.Ordinal)],
                EnvelopeValue(envelope, "from="),
                EnvelopeValue(envelope, "to="),
                await File.ReadAllBytesAsync(file.FullName, cancellationToken)));
        }

        return deliveries;
    }

    /// <summary>The Postfix log so far. postlogd writes asynchronously: prefer <see cref="WaitForLogLinesAsync"/>.</summary>
    public async Task<string> ReadLogAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(LogPath))
        {
            return "";
        }

        await using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(cancellationToken);
    }

    /// <summary>Log lines containing <paramref name="fragment"/>, once there are at least <paramref name="count"/> of them.</summary>
    public async Task<IReadOnlyList<string>> WaitForLogLinesAsync(string fragment, int count = 1, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var log = await ReadLogAsync(cancellationToken);
            var lines = log.Split('\n').Where(l => l.Contains(fragment, StringComparison.Ordinal)).ToList();
            if (lines.Count >= count)
            {
                return lines;
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException(
                    $"Postfix {Hostname} logged {lines.Count} of {count} line(s) containing '{fragment}' within {limit.TotalSeconds:0.#}s.\n{await DescribeAsync(cancellationToken)}");
            }

            await Task.Delay(25, cancellationToken);
        }
    }

    /// <summary>
    /// Local submission through sendmail -C (pickup, not smtpd). Unlike SMTP, this path lets cleanup add
    /// missing Message-ID/Date/From headers, so use smtpd (swaks) when byte-exact content matters.
    /// </summary>
    public async Task SendmailAsync(string sender, IReadOnlyList<string> recipients, byte[] message, CancellationToken cancellationToken = default)
    {
        var result = await ChildProcess.RunAsync(
            SendmailCommand,
            ["-C", ConfigDirectory, "-i", "-f", sender, "--", .. recipients],
            TimeSpan.FromSeconds(30),
            cancellationToken,
            message);
        if (result.ExitCode != 0 || result.TimedOut)
        {
            throw new InvalidOperationException($"sendmail failed (exit {result.ExitCode}): {result.Output}\n{await DescribeAsync(cancellationToken)}");
        }
    }

    /// <summary>Log plus queue state, for failure messages.</summary>
    public async Task<string> DescribeAsync(CancellationToken cancellationToken = default)
    {
        var queues = string.Join(", ", new[] { "maildrop", "incoming", "active", "deferred", "hold" }.Select(q =>
        {
            var directory = Path.Combine(QueueDirectory, q);
            var count = Directory.Exists(directory) ? Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Count() : 0;
            return $"{q}={count}";
        }));
        return $"Instance {RootDirectory} port {Port}; queue files: {queues}\n--- {LogPath} ---\n{await ReadLogAsync(cancellationToken)}";
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        try
        {
            await StopMasterAsync();
        }
        finally
        {
            // SMTPLENS_KEEP_PEER_DIRS=1 keeps config, queue, mail and log for a post-mortem.
            if (Environment.GetEnvironmentVariable("SMTPLENS_KEEP_PEER_DIRS") != "1")
            {
                await DeleteDirectoryAsync(RootDirectory);
            }
        }
    }

    internal static async Task DeleteDirectoryAsync(string directory)
    {
        // A just-killed pipe child may still be writing a file; give it a few moments.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }

                return;
            }
            catch (IOException) when (attempt < 20)
            {
                await Task.Delay(50);
            }
        }
    }

    internal static void EnsurePrerequisites()
    {
        var problems = new List<string>();
        if (!OperatingSystem.IsLinux())
        {
            problems.Add("not Linux");
        }
        else if (Libc.geteuid() != 0)
        {
            problems.Add($"not running as root (euid {Libc.geteuid()}); master must start as root to drop to mail_owner, as CI does");
        }

        foreach (var file in new[] { PostfixCommand, SendmailCommand, MasterDaemon, "/usr/lib/postfix/sbin/postfix-script", "/etc/postfix/postfix-files" })
        {
            if (!File.Exists(file))
            {
                problems.Add($"{file} missing");
            }
        }

        var users = File.Exists("/etc/passwd") ? File.ReadAllLines("/etc/passwd").Select(l => l.Split(':')[0]).ToHashSet() : [];
        var groups = File.Exists("/etc/group") ? File.ReadAllLines("/etc/group").Select(l => l.Split(':')[0]).ToHashSet() : [];
        foreach (var user in new[] { "postfix", PipeUser })
        {
            if (!users.Contains(user))
            {
                problems.Add($"user '{user}' missing");
            }
        }

        if (!groups.Contains("postdrop"))
        {
            problems.Add("group 'postdrop' missing");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException(
                "Real Postfix peers cannot run here: " + string.Join("; ", problems) + $". CI must run as root after: {AptInstallLine}");
        }
    }

    private static string CreateRootDirectory()
    {
        // Fixed /tmp rather than TMPDIR: every path must be traversable by the postfix and nobody users and
        // free of blanks (master.cf argv), which a private TMPDIR may not be.
        var root = Path.Combine("/tmp", "smtplens-postfix-" + Guid.NewGuid().ToString("N")[..12]);
        const UnixFileMode open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        const UnixFileMode writableByAll = open | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

        // data/ is deliberately not created: postfix's create-missing makes it owned by mail_owner, which
        // master.lock needs. spool/ stays root-owned as postfix check wants; its subdirectories come from postfix.
        foreach (var (relative, mode) in new[]
        {
            ("", open), ("etc", open), ("spool", open), ("log", open), ("bin", open), ("mail", open),
            ("mail/tmp", writableByAll), ("mail/new", writableByAll),
        })
        {
            var directory = Path.Combine(root, relative);
            Directory.CreateDirectory(directory);
            File.SetUnixFileMode(directory, mode);
        }

        // pipe(8) runs this as nobody; maildir-style tmp -> new renames make a delivery visible only when complete.
        // Exit 75 (EX_TEMPFAIL) makes Postfix defer instead of bounce.
        var capture = Path.Combine(root, "bin", "capture");
        File.WriteAllText(capture, """
            #!/bin/sh
            # argv: maildir queue_id from=SENDER to=RECIPIENT
            umask 022
            name="$2.$$"
            cat > "$1/tmp/$name.eml" || exit 75
            printf '%s\n%s\n' "$3" "$4" > "$1/tmp/$name.env" || exit 75
            mv "$1/tmp/$name.env" "$1/new/$name.env" || exit 75
            mv "$1/tmp/$name.eml" "$1/new/$name.eml" || exit 75

            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        File.SetUnixFileMode(capture, open);
        return root;
    }

    /// <summary>Self-signed P-256 certificate valid for any harness hostname and for 127.0.0.1.</summary>
    internal static (string CertificateFile, string KeyFile) WriteSelfSignedCertificate(string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=postfix.{HarnessDomain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName($"*.{HarnessDomain}");
        names.AddDnsName($"postfix.{HarnessDomain}");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));

        var certificateFile = Path.Combine(directory, "smtpd-cert.pem");
        var keyFile = Path.Combine(directory, "smtpd-key.pem");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem() + "\n");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certificateFile, keyFile);
    }

    private static string EnvelopeValue(string[] envelope, string prefix) =>
        envelope.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..] ?? "";

    private static bool StartsWithIgnoreCase(byte[] data, int position, string text) =>
        data.Length - position >= text.Length
        && Encoding.Latin1.GetString(data, position, text.Length).Equals(text, StringComparison.OrdinalIgnoreCase);

    private static int FieldEnd(byte[] data, int position)
    {
        while (true)
        {
            var newline = Array.IndexOf(data, (byte)'\n', position);
            if (newline < 0)
            {
                return data.Length;
            }

            position = newline + 1;
            if (position >= data.Length || (data[position] != ' ' && data[position] != '\t'))
            {
                return position;
            }
        }
    }

    private async Task StartMasterAsync(CancellationToken cancellationToken)
    {
        if (Options.SelfSignedTls)
        {
            var (certificate, key) = WriteSelfSignedCertificate(ConfigDirectory);
            Options = Options with { TlsCertificateFile = certificate, TlsKeyFile = key };
        }

        for (var attempt = 1; ; attempt++)
        {
            Port = Options.ListenPort ?? FreePort.Next();
            Hostname = $"{Options.Name}-{Port}.{HarnessDomain}";
            await WriteConfigurationAsync(cancellationToken);

            var clock = Stopwatch.StartNew();
            var start = Options.NetworkNamespace is { } ns
                ? await ChildProcess.RunAsync("/usr/sbin/ip", ["netns", "exec", ns, PostfixCommand, "-c", ConfigDirectory, "start"], Options.StartTimeout, cancellationToken)
                : await ChildProcess.RunAsync(PostfixCommand, ["-c", ConfigDirectory, "start"], Options.StartTimeout, cancellationToken);
            if (start.ExitCode == 0 && !start.TimedOut)
            {
                var started = clock.Elapsed;
                masterPid = FindMasterPid();
                await WaitForBannerAsync(Options.StartTimeout - clock.Elapsed, cancellationToken);
                StartupReport = $"postfix start {started.TotalMilliseconds:0} ms, first 220 banner after {clock.Elapsed.TotalMilliseconds:0} ms, attempt {attempt}";
                return;
            }

            var log = await ReadLogAsync(cancellationToken);
            var portTaken = (log + start.Output).Contains($"port {Port}: Address already in use", StringComparison.Ordinal);
            if (portTaken && attempt < StartAttempts)
            {
                continue;
            }

            throw new InvalidOperationException(
                $"'postfix -c {ConfigDirectory} start' failed (exit {start.ExitCode}{(start.TimedOut ? ", timed out" : "")}, attempt {attempt}):\n" +
                $"{start.Output}\n{await DescribeAsync(cancellationToken)}");
        }
    }

    private async Task WaitForBannerAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                // smtpd_tls_wrappermode (SMTPS) greets only after the handshake, with the certificate we configured.
                var implicitTls = Options.MainCf.TryGetValue("smtpd_tls_wrappermode", out var wrapper) && wrapper == "yes";
                var banner = await SmtpWire.ProbeBannerAsync(Host, Port, attempt.Token, implicitTls ? CertificatePath ?? "" : null, Options.NetworkNamespace, Options.ExpectProxyProtocol);

                // Our own name in the banner proves the port is ours and not another process's listener
                // (unless the test replaced the banner).
                var expected = Options.MainCf.ContainsKey("smtpd_banner") ? "220" : $"220 {Hostname} ";
                if (banner.StartsWith(expected, StringComparison.Ordinal))
                {
                    return;
                }

                last = new InvalidOperationException($"unexpected banner: {banner}");
            }
            catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex;
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new TimeoutException(
            $"Postfix on {Host}:{Port} sent no 220 banner within {timeout.TotalSeconds:0.#}s (last error: {last?.Message}).\n{await DescribeAsync(cancellationToken)}");
    }

    private async Task WriteConfigurationAsync(CancellationToken cancellationToken)
    {
        var root = RootDirectory;
        var mainCf = new Dictionary<string, string>
        {
            ["compatibility_level"] = "3.6",
            ["config_directory"] = ConfigDirectory,
            ["queue_directory"] = QueueDirectory,
            ["data_directory"] = Path.Combine(root, "data"),
            ["mail_owner"] = "postfix",
            ["setgid_group"] = "postdrop",

            // No syslog in containers: postlogd writes this file; maillog_file must sit under a listed prefix.
            ["maillog_file"] = LogPath,
            ["maillog_file_prefixes"] = Path.GetDirectoryName(LogPath)!,
            ["myhostname"] = Hostname,
            ["mydomain"] = HarnessDomain,
            ["myorigin"] = "$myhostname",
            ["inet_interfaces"] = Host,
            ["inet_protocols"] = "ipv4",
            ["mynetworks"] = "127.0.0.0/8",

            // Nothing is "local": no aliases, no local(8), no /etc/aliases lookups.
            ["mydestination"] = "",
            ["local_recipient_maps"] = "",
            ["alias_maps"] = "",
            ["alias_database"] = "",
            ["smtpd_relay_restrictions"] = "permit_mynetworks, reject_unauth_destination",

            // Keep content byte-stable: no header rewriting or added headers for SMTP clients, keep Bcc:,
            // never convert 8bit to quoted-printable when relaying.
            ["local_header_rewrite_clients"] = "",
            ["message_drop_headers"] = "",
            ["disable_mime_output_conversion"] = "yes",

            // Loopback only, no DNS at all; fast retries so a briefly unavailable next hop costs ~1s, not minutes.
            ["smtp_dns_support_level"] = "disabled",
            ["smtp_host_lookup"] = "native",
            ["smtpd_peername_lookup"] = "no",
            ["biff"] = "no",
            ["smtpd_error_sleep_time"] = "0s",
            ["in_flow_delay"] = "0s",
            ["queue_run_delay"] = "1s",
            ["minimal_backoff_time"] = "1s",
            ["maximal_backoff_time"] = "2s",
            ["smtp_connect_timeout"] = "5s",
        };

        if (Options.RelayHost is null)
        {
            mainCf["relay_domains"] = "example.test";
            foreach (var transport in new[] { "default_transport", "relay_transport", "local_transport", "virtual_transport" })
            {
                mainCf[transport] = "capture";
            }

            mainCf["capture_destination_recipient_limit"] = "1";
        }
        else
        {
            mainCf["relayhost"] = Options.RelayHost;
            mainCf["relay_domains"] = "";
            mainCf["default_transport"] = "smtp";
            mainCf["relay_transport"] = "smtp";
            mainCf["local_transport"] = "capture";
            mainCf["virtual_transport"] = "capture";
        }

        if (Options.ExpectProxyProtocol)
        {
            mainCf["smtpd_upstream_proxy_protocol"] = "haproxy";
        }

        if (Options.TlsCertificateFile is not null)
        {
            mainCf["smtpd_tls_chain_files"] = $"{Options.TlsKeyFile}, {Options.TlsCertificateFile}";
            mainCf["smtpd_tls_security_level"] = "may";
            mainCf["smtpd_tls_loglevel"] = "1";
        }

        foreach (var (name, value) in Options.MainCf)
        {
            mainCf[name] = value;
        }

        var text = new StringBuilder("# Written by SmtpLens.IntegrationTests.RealPeers.PostfixInstance\n");
        foreach (var (name, value) in mainCf)
        {
            if (name.AsSpan().ContainsAny("\r\n= ") || value.AsSpan().ContainsAny("\r\n"))
            {
                throw new ArgumentException($"Invalid main.cf parameter '{name}'.");
            }

            text.Append(CultureInfo.InvariantCulture, $"{name} = {value}\n");
        }

        var mainCfPath = Path.Combine(ConfigDirectory, "main.cf");
        await File.WriteAllTextAsync(mainCfPath, text.ToString(), cancellationToken);

        // Postfix re-reads a table file in 300 ms naps while its mtime is under ~2 s old ("pausing to let main.cf
        // finish changing"), which made every fresh start take 2+ s. Backdating the files skips that.
        File.SetLastWriteTimeUtc(mainCfPath, DateTime.UtcNow.AddHours(-1));

        // chroot "n" everywhere: the queue directory has no chroot jail files (resolv.conf, services, ...).
        var masterCf = $$"""
            # service type  private unpriv  chroot  wakeup  maxproc command + args
            {{Host}}:{{Port}} inet n - n - - smtpd
            pickup    unix  n       -       n       60      1       pickup
            cleanup   unix  n       -       n       -       0       cleanup
            qmgr      unix  n       -       n       300     1       qmgr
            tlsmgr    unix  -       -       n       1000?   1       tlsmgr
            rewrite   unix  -       -       n       -       -       trivial-rewrite
            bounce    unix  -       -       n       -       0       bounce
            defer     unix  -       -       n       -       0       bounce
            trace     unix  -       -       n       -       0       bounce
            verify    unix  -       -       n       -       1       verify
            flush     unix  n       -       n       1000?   0       flush
            proxymap  unix  -       -       n       -       -       proxymap
            proxywrite unix -       -       n       -       1       proxymap
            smtp      unix  -       -       n       -       -       smtp
            relay     unix  -       -       n       -       -       smtp
            showq     unix  n       -       n       -       -       showq
            error     unix  -       -       n       -       -       error
            retry     unix  -       -       n       -       -       error
            discard   unix  -       -       n       -       -       discard
            anvil     unix  -       -       n       -       1       anvil
            scache    unix  -       -       n       -       1       scache
            postlog   unix-dgram n  -       n       -       1       postlogd
            capture   unix  -       n       n       -       -       pipe
              flags= null_sender= user={{PipeUser}} argv={{Path.Combine(RootDirectory, "bin", "capture")}} {{MailDirectory}} ${queue_id} from=${sender} to=${recipient}

            """;
        var masterCfPath = Path.Combine(ConfigDirectory, "master.cf");
        await File.WriteAllTextAsync(masterCfPath, masterCf.Replace("\r\n", "\n", StringComparison.Ordinal), cancellationToken);
        File.SetLastWriteTimeUtc(masterCfPath, DateTime.UtcNow.AddHours(-1));
    }

    /// <summary>
    /// The daemon master's pid. Not read from pid/master.pid: master holds an exclusive flock on it and .NET's
    /// FileStream takes a shared flock on every read-only open, so the read would fail. master chdirs to the
    /// queue directory, which identifies this instance's master in /proc.
    /// </summary>
    private int FindMasterPid() => Libc.FindProcess("master", QueueDirectory);

    private async Task StopMasterAsync()
    {
        // FindMasterPid covers a start that timed out after master came up but before we learned its pid.
        var pid = masterPid != 0 ? masterPid : FindMasterPid();
        if (pid <= 0 || !Libc.ProcessGroupAlive(pid))
        {
            return;
        }

        // Same as "postfix stop" minus its 1 s polling: master relays SIGTERM to its process group and exits.
        _ = Libc.kill(pid, Libc.SIGTERM);
        if (await Libc.WaitForProcessGroupExitAsync(pid, TimeSpan.FromSeconds(5)))
        {
            return;
        }

        _ = Libc.kill(-pid, Libc.SIGKILL);
        if (!await Libc.WaitForProcessGroupExitAsync(pid, TimeSpan.FromSeconds(2)))
        {
            throw new InvalidOperationException($"Postfix master {pid} of {RootDirectory} survived SIGTERM and SIGKILL.");
        }
    }
}

/// <summary>Minimal SMTP reply reading for probes and hand-written test sessions.</summary>
internal static class SmtpWire
{
    /// <summary>
    /// Connects, reads the greeting, says QUIT, and returns the greeting. With <paramref name="implicitTlsCertificateFile"/>
    /// the connection starts with a TLS handshake that must present exactly that (self-signed) certificate.
    /// </summary>
    public static async Task<string> ProbeBannerAsync(string host, int port, CancellationToken cancellationToken, string? implicitTlsCertificateFile = null, string? networkNamespace = null, bool sendProxyHeader = false)
    {
        var socket = networkNamespace is null
            ? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            : SmtpLens.IntegrationTests.Transparent.NetworkNamespaces.CreateSocket(networkNamespace);
        Stream stream;
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken);
            stream = new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        if (sendProxyHeader)
        {
            // smtpd_upstream_proxy_protocol: smtpd greets only after a PROXY header.
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"PROXY TCP4 {host} {host} 1 {port}\r\n"), cancellationToken);
        }

        if (implicitTlsCertificateFile is not null)
        {
            if (!File.Exists(implicitTlsCertificateFile))
            {
                throw new InvalidOperationException("Implicit TLS (smtpd_tls_wrappermode) needs TlsCertificateFile or SelfSignedTls.");
            }

            using var trusted = X509CertificateLoader.LoadCertificateFromFile(implicitTlsCertificateFile);
            var expected = trusted.GetCertHashString();
            var tls = new SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, _, _) => certificate?.GetCertHashString() == expected);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host }, cancellationToken);
            stream = tls;
        }

        await using var owned = stream;
        var banner = await ReadReplyAsync(stream, cancellationToken);
        await stream.WriteAsync("QUIT\r\n"u8.ToArray(), cancellationToken);
        await ReadReplyAsync(stream, cancellationToken);
        return banner;
    }

    /// <summary>
    /// Reads one complete (possibly multi-line) reply byte by byte, so nothing of a following pipelined
    /// reply is consumed. Lines are returned joined by "\n" without their CRLF.
    /// </summary>
    public static async Task<string> ReadReplyAsync(Stream stream, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync(stream, cancellationToken);
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
            {
                return string.Join('\n', lines);
            }
        }
    }

    public static async Task<string> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                throw new IOException($"Connection closed after \"{Encoding.Latin1.GetString([.. line])}\"");
            }

            if (one[0] == '\n')
            {
                return Encoding.Latin1.GetString([.. line]).TrimEnd('\r');
            }

            line.Add(one[0]);
        }
    }
}

/// <summary>The few libc calls .NET lacks: euid, and signals other than SIGKILL.</summary>
internal static class Libc
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // LibraryImport would need AllowUnsafeBlocks for the test project.
    public static extern int kill(int pid, int sig);

    [DllImport("libc")]
    public static extern uint geteuid();
#pragma warning restore SYSLIB1054

    /// <summary>True while any non-zombie process has process group <paramref name="pgid"/> (master is a session leader).</summary>
    public static bool ProcessGroupAlive(int pgid) => LiveProcesses().Any(p => p.Group == pgid);

    /// <summary>Pid of the live process named <paramref name="comm"/> whose working directory is <paramref name="cwd"/>, or 0.</summary>
    public static int FindProcess(string comm, string cwd)
    {
        foreach (var (pid, name, _) in LiveProcesses())
        {
            try
            {
                if (name == comm && new DirectoryInfo($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cwd").LinkTarget == cwd)
                {
                    return pid;
                }
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to inspect.
            }
        }

        return 0;
    }

    private static IEnumerable<(int Pid, string Comm, int Group)> LiveProcesses()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            // "pid (comm) state ppid pgrp ..."; comm may contain blanks and parentheses, so parse around the last ')'.
            var close = stat.LastIndexOf(')');
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            if (open < 0 || close < open || close + 2 > stat.Length)
            {
                continue;
            }

            var fields = stat[(close + 2)..].Split(' ');
            if (fields.Length > 2 && fields[0] != "Z" && fields[0] != "X"
                && int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var group))
            {
                yield return (pid, stat[(open + 1)..close], group);
            }
        }
    }

    public static async Task<bool> WaitForProcessGroupExitAsync(int pgid, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (!ProcessGroupAlive(pgid))
            {
                return true;
            }

            await Task.Delay(20);
        }

        return !ProcessGroupAlive(pgid);
    }
}
