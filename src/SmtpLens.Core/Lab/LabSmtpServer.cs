using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SmtpLens.IO;
using SmtpLens.Protocol;
using SmtpLens.Transcripts;

namespace SmtpLens.Lab;

/// <summary>A small but real ESMTP server on loopback: the lab's upstream, and a listener other tools can use.</summary>
/// <remarks>It speaks PIPELINING, CHUNKING/BINARYMIME, 8BITMIME and AUTH, stores what it accepts, and can
/// misbehave on purpose so the proxy's failure handling can be shown and tested.</remarks>
internal sealed class LabSmtpServer : IAsyncDisposable
{
    private readonly LabServerOptions _options;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<ReceivedMessage> _received = new();
    private readonly ConcurrentDictionary<int, Task> _connections = new();
    private Task? _acceptLoop;
    private int _connectionCount;
    private int _messageCount;

    public LabSmtpServer(LabServerOptions options, IPEndPoint? bind = null)
    {
        _options = options;
        if (options.MailDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
        }

        bind ??= new IPEndPoint(IPAddress.Loopback, 0);
        _socket = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _socket.Bind(bind);
        _socket.Listen(256);
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint EndPoint { get; }

    public IReadOnlyCollection<ReceivedMessage> Received => _received.ToArray();

    /// <summary>Subjects of the client certificates TLS clients presented, in arrival order.</summary>
    public ConcurrentQueue<string> ClientCertificateSubjects { get; } = new();

    /// <summary>TLS protocol and cipher of each TLS session, as the server saw them.</summary>
    public ConcurrentQueue<string> TlsSessions { get; } = new();

    public event Action<ReceivedMessage>? MessageReceived;

    public void Start() => _acceptLoop = AcceptLoopAsync();

    /// <summary>Waits until <paramref name="count"/> messages have arrived (tests use it).</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> WaitForMessagesAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_received.Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        return [.. _received];
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            var id = Interlocked.Increment(ref _connectionCount);
            _connections[id] = ServeAsync(client, id);
        }
    }

    private async Task ServeAsync(Socket socket, int id)
    {
        await Task.Yield();
        try
        {
            using var connection = new LabServerConnection(this, socket);
            await connection.RunAsync(_stopping.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException or System.Security.Authentication.AuthenticationException)
        {
            // A peer that vanishes, misbehaves or fails the TLS handshake ends its own connection only;
            // which exception a failed handshake surfaces as depends on who closes first.
        }
        finally
        {
            socket.Dispose();
            _connections.TryRemove(id, out _);
        }
    }

    private ReceivedMessage Store(string from, IReadOnlyList<string> to, string method, MessageDigest digest, string? path)
    {
        var message = new ReceivedMessage(Interlocked.Increment(ref _messageCount), from, to, method, digest.Size, digest.Finish(), path);
        _received.Enqueue(message);
        MessageReceived?.Invoke(message);
        return message;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _socket.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        await Task.WhenAll(_connections.Values);
        _stopping.Dispose();
    }

    /// <summary>One client of the lab server.</summary>
    private sealed class LabServerConnection(LabSmtpServer server, Socket socket) : IDisposable
    {
        private Stream _stream = new NetworkStream(socket, ownsSocket: false);
        private bool _tlsActive;
        private readonly List<string> _recipients = [];
        private PipeReader? _reader;
        private string? _helo;
        private string? _mailFrom;
        private MessageDigest? _bdat;
        private string? _bdatPath;
        private long _contentSoFar;

        private LabServerOptions Options => server._options;

        public async Task RunAsync(CancellationToken stopping)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            idle.CancelAfter(Options.IdleTimeout);
            var ct = idle.Token;
            if (Options.ImplicitTls)
            {
                await StartTlsAsync(ct);
                if (Options.DropAfterTlsHandshake)
                {
                    return;
                }
            }

            _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
            await ReplyAsync($"220 {Options.Banner ?? $"{Options.Hostname} ESMTP SmtpLens lab upstream"}", ct);
            while (true)
            {
                byte[]? line;
                try
                {
                    line = await SmtpLineReader.ReadLineAsync(_reader, Options.MaxLineLength, ct);
                }
                catch (LineTooLongException)
                {
                    await ReplyAsync("500 5.5.0 Line too long", ct);
                    return;
                }

                if (line is null)
                {
                    return;
                }

                idle.CancelAfter(Options.IdleTimeout);
                var command = SmtpCommand.Parse(line);
                if (!await HandleAsync(command, ct))
                {
                    return;
                }
            }
        }

        private async Task<bool> HandleAsync(SmtpCommand command, CancellationToken ct)
        {
            if (Options.Refusals.TryGetValue(command.Verb, out var refusal))
            {
                await ReplyAsync(refusal, ct);
                return true;
            }

            if (command.Verb is SmtpVerb.Mail && !_tlsActive && Options.RequireTlsReply is { } requireTls)
            {
                await ReplyAsync(requireTls, ct);
                return true;
            }

            switch (command.Verb)
            {
                case SmtpVerb.Ehlo:
                    _helo = command.Arguments;
                    ResetTransaction();
                    var lines = new List<string> { $"{Options.Hostname} Hello {command.Arguments}" };
                    lines.AddRange(Options.Keywords);
                    if ((Options.TlsCertificate is not null || Options.BouncyTls is not null) && !_tlsActive)
                    {
                        lines.Add("STARTTLS");
                    }
                    await ReplyAsync(250, lines, ct);
                    return true;
                case SmtpVerb.Helo:
                    _helo = command.Arguments;
                    ResetTransaction();
                    await ReplyAsync($"250 {Options.Hostname}", ct);
                    return true;
                case SmtpVerb.Mail:
                    if (_helo is null)
                    {
                        await ReplyAsync("503 5.5.1 Error: send HELO/EHLO first", ct);
                    }
                    else if (_mailFrom is not null)
                    {
                        await ReplyAsync("503 5.5.1 Error: nested MAIL command", ct);
                    }
                    else
                    {
                        _mailFrom = command.Path ?? string.Empty;
                        await ReplyAsync("250 2.1.0 Ok", ct);
                    }

                    return true;
                case SmtpVerb.Rcpt:
                    if (_mailFrom is null)
                    {
                        await ReplyAsync("503 5.5.1 Error: need MAIL command", ct);
                    }
                    else
                    {
                        _recipients.Add(command.Path ?? string.Empty);
                        await ReplyAsync("250 2.1.5 Ok", ct);
                    }

                    return true;
                case SmtpVerb.Data:
                    return await ReceiveDataAsync(ct);
                case SmtpVerb.Bdat:
                    return await ReceiveChunkAsync(command, ct);
                case SmtpVerb.Rset:
                    ResetTransaction();
                    await ReplyAsync("250 2.0.0 Ok", ct);
                    return true;
                case SmtpVerb.Noop:
                    await ReplyAsync("250 2.0.0 Ok", ct);
                    return true;
                case SmtpVerb.Auth:
                    return await AuthenticateAsync(command, ct);
                case SmtpVerb.Quit:
                    await ReplyAsync("221 2.0.0 Bye", ct);
                    return false;
                case SmtpVerb.StartTls when Options.RefuseStartTls:
                    await ReplyAsync("454 4.7.0 TLS not available due to temporary reason", ct);
                    return true;
                case SmtpVerb.StartTls when (Options.TlsCertificate is not null || Options.BouncyTls is not null) && !_tlsActive:
                    await ReplyAsync("220 2.0.0 Ready to start TLS", ct);
                    await _reader!.CompleteAsync();
                    await StartTlsAsync(ct);
                    if (Options.DropAfterTlsHandshake)
                    {
                        return false;
                    }

                    _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
                    _helo = null;
                    ResetTransaction();
                    return true;
                default:
                    await ReplyAsync("502 5.5.2 Error: command not recognized", ct);
                    return true;
            }
        }

        /// <summary>BouncyCastle path: judged inside the handshake, so a refusal is a fatal bad_certificate alert.</summary>
        private void JudgeClientCertificate(IReadOnlyList<byte[]> chain)
        {
            using var leaf = chain.Count > 0 ? System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(chain[0]) : null;
            if (leaf is not null)
            {
                server.ClientCertificateSubjects.Enqueue(leaf.Subject);
            }

            if (Options.AcceptClientCertificate is { } accept && !accept(leaf))
            {
                throw SmtpLens.Tls.Engine.TlsEngine.RejectCertificate("the lab server refuses this client certificate");
            }
        }

        private async Task StartTlsAsync(CancellationToken ct)
        {
            _tlsActive = true;
            if (Options.BouncyTls is { } bouncy)
            {
                var record = new SmtpLens.Tls.TlsLegRecord("lab", "server");
                var stream = await SmtpLens.Tls.Engine.TlsEngine.AcceptAsync(_stream, bouncy.Policy, bouncy.Identity, Options.RequestClientCertificate, JudgeClientCertificate, record, TimeProvider.System, ct);
                server.TlsSessions.Enqueue($"{SmtpLens.Tls.TlsNames.Version(record.Version ?? 0)} {SmtpLens.Tls.TlsNames.CipherSuite(record.CipherSuite ?? 0)}");
                _stream = stream;
                return;
            }

            var accept = Options.AcceptClientCertificate;
            var tls = new SslStream(_stream, leaveInnerStreamOpen: false, (_, certificate, _, _) => accept is null || accept(certificate));
            await tls.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions
                {
                    ServerCertificate = Options.TlsCertificate,
                    ClientCertificateRequired = Options.RequestClientCertificate,
                    EnabledSslProtocols = Options.TlsProtocols,
                },
                ct);
            server.TlsSessions.Enqueue($"{tls.SslProtocol} {tls.NegotiatedCipherSuite}");
            if (tls.RemoteCertificate is { } remote)
            {
                using var certificate = new X509Certificate2(remote);
                server.ClientCertificateSubjects.Enqueue(certificate.Subject);
            }

            _stream = tls;
        }

        private async Task<bool> ReceiveDataAsync(CancellationToken ct)
        {
            if (_recipients.Count == 0)
            {
                await ReplyAsync(_mailFrom is null ? "503 5.5.1 Error: need MAIL command" : "554 5.5.1 Error: no valid recipients", ct);
                return true;
            }

            await ReplyAsync("354 End data with <CR><LF>.<CR><LF>", ct);
            var (path, capture) = OpenCapture();
            using var digest = new MessageDigest(1024, capture);
            var scanner = new DataContentScanner();
            while (!scanner.Complete)
            {
                var read = await _reader!.ReadAsync(ct);
                var consumed = 0L;
                foreach (var segment in read.Buffer)
                {
                    consumed += scanner.Scan(segment.Span, digest);
                    if (scanner.Complete)
                    {
                        break;
                    }
                }

                _reader.AdvanceTo(read.Buffer.GetPosition(consumed));
                if (DropNow(consumed))
                {
                    socket.Close(0);
                    return false;
                }

                if (!scanner.Complete && read.IsCompleted)
                {
                    return false;
                }
            }

            var message = server.Store(_mailFrom!, [.. _recipients], "DATA", digest, path);
            ResetTransaction();
            await ReplyAsync($"250 2.0.0 Ok: queued as LAB{message.Number:D6}", ct);
            return true;
        }

        private async Task<bool> ReceiveChunkAsync(SmtpCommand command, CancellationToken ct)
        {
            if (!BdatArguments.TryParse(command.Arguments, out var bdat))
            {
                await ReplyAsync("501 5.5.4 Syntax: BDAT chunk-size [LAST]", ct);
                return true;
            }

            if (_bdat is null)
            {
                var (path, capture) = OpenCapture();
                _bdat = new MessageDigest(1024, capture);
                _bdatPath = path;
            }

            var remaining = bdat.ChunkSize;
            while (remaining > 0)
            {
                var read = await _reader!.ReadAsync(ct);
                var take = Math.Min(remaining, read.Buffer.Length);
                foreach (var segment in read.Buffer.Slice(0, take))
                {
                    _bdat.Write(segment.Span);
                }

                remaining -= take;
                _reader.AdvanceTo(read.Buffer.GetPosition(take));
                if (DropNow(take))
                {
                    socket.Close(0);
                    return false;
                }

                if (remaining > 0 && read.IsCompleted)
                {
                    return false;
                }
            }

            if (_recipients.Count == 0)
            {
                ResetTransaction();
                await ReplyAsync("503 5.5.1 Error: need RCPT command", ct);
                return true;
            }

            if (!bdat.Last)
            {
                await ReplyAsync($"250 2.0.0 {bdat.ChunkSize} octets received", ct);
                return true;
            }

            var message = server.Store(_mailFrom!, [.. _recipients], "BDAT", _bdat, _bdatPath);
            ResetTransaction();
            await ReplyAsync($"250 2.0.0 Ok: {message.Size} octets, queued as LAB{message.Number:D6}", ct);
            return true;
        }

        private async Task<bool> AuthenticateAsync(SmtpCommand command, CancellationToken ct)
        {
            var parts = command.Arguments.Split(' ', 2);
            var mechanism = parts[0].ToUpperInvariant();
            var steps = mechanism switch
            {
                "PLAIN" => parts.Length == 2 ? 0 : 1,
                "LOGIN" => parts.Length == 2 ? 1 : 2,
                _ => -1,
            };
            if (steps < 0)
            {
                await ReplyAsync("504 5.5.4 Unrecognized authentication type", ct);
                return true;
            }

            string[] prompts = mechanism == "LOGIN" ? ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"] : [string.Empty];
            for (var i = prompts.Length - steps; i < prompts.Length; i++)
            {
                await ReplyAsync(prompts[i].Length == 0 ? "334 " : $"334 {prompts[i]}", ct);
                if (await SmtpLineReader.ReadLineAsync(_reader!, Options.MaxLineLength, ct) is null)
                {
                    return false;
                }
            }

            await ReplyAsync("235 2.7.0 Authentication successful", ct);
            return true;
        }

        private bool DropNow(long justRead)
        {
            _contentSoFar += justRead;
            return Options.DropAfterContentBytes is { } limit && _contentSoFar >= limit;
        }

        private (string? Path, Stream? Capture) OpenCapture()
        {
            if (Options.MailDirectory is not { } dir)
            {
                return (null, null);
            }

            var path = Path.Combine(dir, $"{DateTime.UtcNow:yyyyMMdd'T'HHmmssfff}-{Guid.NewGuid():N}.eml");
            // Lab mail is still mail: owner-only, like the proxy's captures.
            return (path, PrivateFiles.Open(path, FileMode.CreateNew, bufferSize: 64 * 1024));
        }

        private void ResetTransaction()
        {
            _mailFrom = null;
            _recipients.Clear();
            _bdat?.Dispose();
            _bdat = null;
            _bdatPath = null;
        }

        private Task ReplyAsync(string line, CancellationToken ct) =>
            _stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"), ct).AsTask();

        private Task ReplyAsync(int code, IReadOnlyList<string> lines, CancellationToken ct)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < lines.Count; i++)
            {
                sb.Append(code).Append(i == lines.Count - 1 ? ' ' : '-').Append(lines[i]).Append("\r\n");
            }

            return _stream.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), ct).AsTask();
        }

        public void Dispose()
        {
            _bdat?.Dispose();
            _stream.Dispose();
        }
    }
}
