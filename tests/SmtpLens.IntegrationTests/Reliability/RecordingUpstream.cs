using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;

namespace SmtpLens.IntegrationTests.Reliability;

/// <summary>What one upstream connection saw: every byte received and sent (cleartext on both sides of STARTTLS),
/// and the SHA-256 of each message it accepted, un-stuffed by its own reading of RFC 5321.</summary>
internal sealed record UpstreamRecord(byte[] Received, byte[] Sent, IReadOnlyList<string> MessageDigests);

/// <summary>Where the upstream misbehaves, and how: once, on its first connection.</summary>
internal sealed record UpstreamFault(FaultStage Stage, FaultKind Kind);

internal enum FaultStage
{
    Connect,
    Banner,
    Ehlo,
    StartTls,
    TlsHandshake,
    Data,
    AfterFinalDot,
    Quit,
}

internal enum FaultKind
{
    /// <summary>An orderly close (FIN) with nothing more said.</summary>
    Close,

    /// <summary>An abortive close: SO_LINGER 0, so the peer sees RST.</summary>
    Reset,

    /// <summary>Goes silent: reads and discards, never answers, until the peer gives up.</summary>
    Stall,
}

/// <summary>A minimal SMTP receiver that records bytes exactly and writes its replies in random pieces, so the
/// proxy sees reply lines split anywhere. One connection at a time is what the property test needs.</summary>
internal sealed class RecordingUpstream : IAsyncDisposable
{
    private TcpListener _listener = Listen(new IPEndPoint(IPAddress.Loopback, 0), 512);
    private readonly X509Certificate2? _certificate;
    private readonly Channel<UpstreamRecord> _records = Channel.CreateUnbounded<UpstreamRecord>();
    private readonly CancellationTokenSource _stop = new();
    private Task _accept;
    private readonly UpstreamFault? _fault;
    private int _seed;
    private readonly System.Collections.Concurrent.ConcurrentQueue<LiveBytes> _sentLive = new();
    private readonly System.Collections.Concurrent.ConcurrentBag<Task> _serving = [];
    private int _connections;

    public RecordingUpstream(X509Certificate2? certificate, int seed, UpstreamFault? fault = null)
    {
        _certificate = certificate;
        _seed = seed;
        _fault = fault;
        _accept = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>What each connection has sent so far, in accept order, readable while it is still open (a stalled one).</summary>
    public IReadOnlyList<byte[]> SentSoFar => [.. _sentLive.Select(s => s.ToArray())];

    /// <summary>Runs <paramref name="action"/> while the port refuses connections (<paramref name="stall"/> false)
    /// or leaves them hanging in the SYN stage (true: the accept queue is full and nobody accepts), then serves again.</summary>
    public async Task UnavailableWhileAsync(bool stall, Func<Task> action)
    {
        var endPoint = EndPoint;
        _listener.Stop();
        await _accept;
        var fillers = new List<Socket>();
        try
        {
            if (stall)
            {
                // Linux queues backlog + 1 connections nobody accepted; SYNs beyond that are dropped.
                _listener = Listen(endPoint, 0);
                for (var i = 0; i < 8; i++)
                {
                    var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    fillers.Add(filler);
                    using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
                    try
                    {
                        await filler.ConnectAsync(endPoint, cts.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }

            await action();
        }
        finally
        {
            foreach (var filler in fillers)
            {
                filler.Dispose();
            }

            _listener.Stop();
            _listener = Listen(endPoint, 512);
            _accept = AcceptAsync();
        }
    }

    private static TcpListener Listen(IPEndPoint endPoint, int backlog)
    {
        var listener = new TcpListener(endPoint);
        // The same port again after a pause, with the last connections still in TIME_WAIT.
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start(backlog);
        return listener;
    }

    public async Task<UpstreamRecord> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _records.Reader.ReadAsync(cts.Token);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var fault = Interlocked.Increment(ref _connections) == 1 ? _fault : null;
            _serving.Add(ServeAsync(socket, new Random(Interlocked.Increment(ref _seed)), fault));
        }
    }

    private async Task ServeAsync(Socket socket, Random random, UpstreamFault? fault)
    {
        // Each reply goes out in pieces on purpose; Nagle would hold every second piece for a delayed ACK.
        socket.NoDelay = true;
        var received = new MemoryStream();
        var sent = new LiveBytes();
        _sentLive.Enqueue(sent);
        var digests = new List<string>();
        using (socket)
        {
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            var reader = new RecordingReader(stream, received);
            try
            {
                if (fault?.Stage == FaultStage.Connect)
                {
                    await InjectAsync(socket, stream, fault.Kind, _stop.Token);
                    return;
                }

                if (fault?.Stage == FaultStage.Banner)
                {
                    await ReplyAsync(stream, sent, random, "220 rec.upstream");
                    await InjectAsync(socket, stream, fault.Kind, _stop.Token);
                    return;
                }

                await ReplyAsync(stream, sent, random, "220 rec.upstream.test ESMTP recording\r\n");
                byte[]? chunks = null;
                while (await reader.ReadLineAsync() is { } line)
                {
                    var text = Encoding.Latin1.GetString(line).TrimEnd('\r', '\n');
                    var verb = (text.Split(' ', 2)[0]).ToUpperInvariant();
                    if (fault is not null && await FaultAtAsync(fault, verb, socket, stream, reader, sent, random, _stop.Token))
                    {
                        return;
                    }

                    switch (verb)
                    {
                        case "EHLO":
                            random = new Random(StableSeed(text));
                            var tls = _certificate is not null && stream is NetworkStream ? "250-STARTTLS\r\n" : string.Empty;
                            await ReplyAsync(stream, sent, random, $"250-rec.upstream.test greets {text[4..].Trim()}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-BINARYMIME\r\n{tls}250-SIZE 100000000\r\n250 SMTPUTF8\r\n");
                            break;
                        case "STARTTLS" when _certificate is not null && stream is NetworkStream:
                            await ReplyAsync(stream, sent, random, "220 2.0.0 go ahead\r\n");
                            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate });
                            stream = ssl;
                            reader = new RecordingReader(stream, received);
                            break;
                        case "DATA":
                            await ReplyAsync(stream, sent, random, "354 end with <CRLF>.<CRLF>\r\n");
                            var content = await reader.ReadDataAsync();
                            digests.Add(Convert.ToHexStringLower(SHA256.HashData(content)));
                            await ReplyAsync(stream, sent, random, $"250 2.0.0 accepted {content.Length} bytes\r\n");
                            break;
                        case "BDAT":
                            var args = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                            var chunk = await reader.ReadExactlyAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
                            chunks = [.. chunks ?? [], .. chunk];
                            if (args.Length > 2)
                            {
                                digests.Add(Convert.ToHexStringLower(SHA256.HashData(chunks)));
                                chunks = null;
                            }

                            await ReplyAsync(stream, sent, random, $"250 2.0.0 {chunk.Length} octets\r\n");
                            break;
                        case "RSET":
                            chunks = null;
                            await ReplyAsync(stream, sent, random, "250 2.0.0 reset\r\n");
                            break;
                        case "QUIT":
                            await ReplyAsync(stream, sent, random, "221 2.0.0 bye\r\n");
                            return;
                        case "MAIL" or "RCPT" or "NOOP":
                            await ReplyAsync(stream, sent, random, "250 2.1.0 ok\r\n");
                            break;
                        default:
                            await ReplyAsync(stream, sent, random, "500 5.5.1 unrecognized\r\n");
                            break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
            {
                // The record says what arrived; the test judges it.
            }
            finally
            {
                await stream.DisposeAsync();
                _records.Writer.TryWrite(new UpstreamRecord(received.ToArray(), sent.ToArray(), digests));
            }
        }
    }

    /// <summary>Applies <paramref name="fault"/> if this command is where it strikes; true when the connection is done.</summary>
    private static async Task<bool> FaultAtAsync(UpstreamFault fault, string verb, Socket socket, Stream stream, RecordingReader reader, LiveBytes sent, Random random, CancellationToken stop)
    {
        switch (fault.Stage)
        {
            case FaultStage.Ehlo when verb == "EHLO":
                await ReplyAsync(stream, sent, random, "250-rec.upstream.test\r\n250-PIPEL");
                break;
            case FaultStage.StartTls when verb == "STARTTLS":
                break;
            case FaultStage.TlsHandshake when verb == "STARTTLS":
                await ReplyAsync(stream, sent, random, "220 2.0.0 go ahead\r\n");
                // Take the start of the ClientHello, then fail inside the handshake.
                await reader.ReadExactlyAsync(5);
                break;
            case FaultStage.Data when verb == "DATA":
                await ReplyAsync(stream, sent, random, "354 go ahead\r\n");
                await reader.ReadExactlyAsync(100);
                break;
            case FaultStage.AfterFinalDot when verb == "DATA":
                await ReplyAsync(stream, sent, random, "354 go ahead\r\n");
                await reader.ReadDataAsync();
                break;
            case FaultStage.Quit when verb == "QUIT":
                break;
            default:
                return false;
        }

        await InjectAsync(socket, stream, fault.Kind, stop);
        return true;
    }

    private static async Task InjectAsync(Socket socket, Stream stream, FaultKind kind, CancellationToken stop)
    {
        switch (kind)
        {
            case FaultKind.Reset:
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
                return;
            case FaultKind.Stall:
                // Silent and not reading either: the peer's writes back up, as with a hung MTA.
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(60), stop);
                }
                catch (OperationCanceledException)
                {
                }

                return;
        }

        // Close: FIN, then wait for the peer's so unread bytes do not turn our close into a reset.
        socket.Shutdown(SocketShutdown.Send);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        var sink = new byte[16 * 1024];
        try
        {
            while (await stream.ReadAsync(sink, cts.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer reset or the cap ran out; either way this connection is over.
        }
    }

    /// <summary>A seed from the EHLO line that is the same in every process (string.GetHashCode is not).</summary>
    private static int StableSeed(string text) => BitConverter.ToInt32(SHA256.HashData(Encoding.ASCII.GetBytes(text)));

    /// <summary>Writes a reply in one to four pieces cut at random offsets, flushing each.</summary>
    private static async Task ReplyAsync(Stream stream, LiveBytes sent, Random random, string reply)
    {
        var bytes = Encoding.ASCII.GetBytes(reply);
        sent.Write(bytes);
        foreach (var piece in RandomSplits.Cut(bytes, random, maxPieces: 4))
        {
            await stream.WriteAsync(piece);
            await stream.FlushAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept;
        await Task.WhenAny(Task.WhenAll(_serving), Task.Delay(TimeSpan.FromSeconds(10)));
        _stop.Dispose();
    }

    /// <summary>Lines, exact byte counts and DATA content over a stream, recording every byte taken.</summary>
    private sealed class RecordingReader(Stream stream, MemoryStream record)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<byte[]?> ReadLineAsync()
        {
            var line = new List<byte>();
            while (true)
            {
                if (_start == _end && !await FillAsync())
                {
                    return null;
                }

                var b = _buffer[_start++];
                record.WriteByte(b);
                line.Add(b);
                if (b == (byte)'\n')
                {
                    return [.. line];
                }
            }
        }

        public async Task<byte[]> ReadExactlyAsync(int count)
        {
            var data = new byte[count];
            for (var have = 0; have < count;)
            {
                if (_start == _end && !await FillAsync())
                {
                    throw new IOException("closed inside a BDAT chunk");
                }

                var n = Math.Min(count - have, _end - _start);
                _buffer.AsSpan(_start, n).CopyTo(data.AsSpan(have));
                record.Write(_buffer, _start, n);
                _start += n;
                have += n;
            }

            return data;
        }

        /// <summary>RFC 5321 4.5.2 as the receiver: a line is ended by CRLF; a leading dot is removed; ".CRLF" ends.</summary>
        public async Task<byte[]> ReadDataAsync()
        {
            var content = new List<byte>();
            var atLineStart = true;
            while (true)
            {
                if (_start == _end && !await FillAsync())
                {
                    throw new IOException("closed inside DATA");
                }

                var b = _buffer[_start++];
                record.WriteByte(b);
                content.Add(b);
                var n = content.Count;
                if (atLineStart && b == (byte)'.')
                {
                    // Held: either stuffing or the start of the terminator.
                    atLineStart = false;
                    content.RemoveAt(n - 1);
                    if (await PeekAsync() == '\r' && await PeekAsync(1) == '\n')
                    {
                        record.Write(_buffer, _start, 2);
                        _start += 2;
                        return [.. content];
                    }

                    continue;
                }

                atLineStart = n >= 2 && content[n - 2] == (byte)'\r' && b == (byte)'\n';
            }
        }

        private async Task<int?> PeekAsync(int offset = 0)
        {
            while (_end - _start <= offset)
            {
                if (!await FillAsync())
                {
                    return null;
                }
            }

            return _buffer[_start + offset];
        }

        private async Task<bool> FillAsync()
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            var n = await stream.ReadAsync(_buffer.AsMemory(_end));
            _end += n;
            return n > 0;
        }
    }
}

/// <summary>Bytes appended by one task and read by another.</summary>
internal sealed class LiveBytes
{
    private readonly List<byte> _bytes = [];

    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_bytes)
        {
            _bytes.AddRange(bytes);
        }
    }

    public byte[] ToArray()
    {
        lock (_bytes)
        {
            return [.. _bytes];
        }
    }
}

internal static class RandomSplits
{
    /// <summary>Cuts <paramref name="bytes"/> into up to <paramref name="maxPieces"/> pieces at random offsets.</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Cut(byte[] bytes, Random random, int maxPieces)
    {
        var pieces = 1 + random.Next(maxPieces);
        var cuts = Enumerable.Range(0, pieces - 1).Select(_ => random.Next(bytes.Length + 1)).Order().Append(bytes.Length).ToList();
        var from = 0;
        foreach (var cut in cuts)
        {
            if (cut > from)
            {
                yield return bytes.AsMemory(from, cut - from);
                from = cut;
            }
        }
    }
}
