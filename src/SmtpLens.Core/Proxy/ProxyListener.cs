using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SmtpLens.IO;
using SmtpLens.Net;
using SmtpLens.Relay;
using SmtpLens.Transcripts;

namespace SmtpLens.Proxy;

/// <summary>Accepts connections on one address and runs a relayed session for each.</summary>
internal sealed class ProxyListener : IAsyncDisposable
{
    private readonly SessionContext _context;
    private readonly SessionIdGenerator _ids;
    private readonly ConcurrentDictionary<string, Task> _sessions = new();
    // Two stages: stop accepting first; end the sessions that are still open only when the grace period is over.
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _endSessions = new();
    private readonly Socket _socket;
    private Task? _acceptLoop;
    private int _disposed;

    public ProxyListener(SessionContext context, SessionIdGenerator ids)
    {
        _context = context;
        _ids = ids;
        var endPoint = context.Listener.Listen.ToBindEndPoint();
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _socket.DualMode = true;
        }

        // SO_REUSEADDR alone: a restarted proxy binds while old connections sit in TIME_WAIT, yet a port another
        // socket listens on stays busy (EADDRINUSE). .NET's ReuseAddress would add SO_REUSEPORT on Linux, which
        // lets a second instance share the port and the kernel split connections between the two.
        LinuxSocketOptions.SetReuseAddressOnly(_socket);
        if (context.Listener.Route == UpstreamRoute.Tproxy)
        {
            // Without it the kernel will not hand this socket connections addressed to other hosts.
            try
            {
                LinuxSocketOptions.SetTransparent(_socket);
            }
            catch (SocketException e)
            {
                _socket.Dispose();
                throw new InvalidOperationException($"TPROXY listener {endPoint}: setting IP_TRANSPARENT failed ({e.SocketErrorCode}: {e.Message}); it needs CAP_NET_ADMIN (run as root or grant the capability)", e);
            }
        }

        try
        {
            _socket.Bind(endPoint);
            _socket.Listen(512);
        }
        catch (SocketException)
        {
            _socket.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    /// <summary>The bound address; with port 0 this tells the port the kernel chose.</summary>
    public IPEndPoint LocalEndPoint { get; }

    public string Name => _context.Listener.Name;

    /// <summary>Raised when a session finishes, with its summary (tests and the lab use it).</summary>
    public event Action<SessionSummary>? SessionCompleted;

    /// <summary>Raised when a session starts, with its transcript, so observers can follow events live.</summary>
    public event Action<SessionTranscript>? SessionStarted;

    public int ActiveSessions => _sessions.Count;

    public void Start() => _acceptLoop = AcceptLoopAsync();

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                continue;
            }
            catch (SocketException e)
            {
                // Out of descriptors or similar: back off instead of spinning, and keep serving.
                _context.Log.LogWarning("listener {Listener}: accept failed: {Error}", Name, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), _context.Time, CancellationToken.None);
                continue;
            }

            var id = _ids.Next();
            _sessions[id] = RunSessionAsync(client, id);
        }
    }

    private async Task RunSessionAsync(Socket client, string id)
    {
        await Task.Yield();
        try
        {
            ConnectionOrigin origin;
            try
            {
                origin = await ConnectionOrigin.ResolveAsync(client, _context.Listener.Route, _context.Listener.AcceptProxy, LocalEndPoint, _context.Time, _endSessions.Token);
                await ThreadPoolHop.OffEventThread;
            }
            catch (OperationCanceledException)
            {
                client.Dispose();
                return;
            }

            await using var session = new SmtpSession(client, id, _context, origin);
            SessionStarted?.Invoke(session.Transcript);
            var summary = await session.RunAsync(_endSessions.Token);
            SessionCompleted?.Invoke(summary);
        }
        catch (Exception e)
        {
            _context.Log.LogError(e, "{SessionId} session failed to start", id);
            client.Dispose();
        }
        finally
        {
            _sessions.TryRemove(id, out _);
        }
    }

    /// <summary>Stops accepting new connections; open sessions carry on.</summary>
    public async Task StopAcceptingAsync()
    {
        await _stopping.CancelAsync();
        _socket.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }
    }

    /// <summary>Waits up to <paramref name="grace"/> (or until <paramref name="hurry"/>) for open sessions to end by
    /// themselves, then ends the rest (each records a Shutdown limit event) and waits until every transcript is written.</summary>
    /// <returns>How many sessions had to be ended.</returns>
    public async Task<int> DrainAsync(TimeSpan grace, CancellationToken hurry = default)
    {
        var open = Task.WhenAll(_sessions.Values);
        if (grace > TimeSpan.Zero && !open.IsCompleted)
        {
            using var timer = new CancellationTokenSource(grace, _context.Time);
            using var expiry = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, hurry);
            await open.WaitAsync(expiry.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        var ended = _sessions.Count;
        await _endSessions.CancelAsync();
        await Task.WhenAll(_sessions.Values);
        return ended;
    }

    /// <summary>Stops accepting, ends open sessions at once (they record Shutdown) and waits for their transcripts.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopAcceptingAsync();
        await DrainAsync(TimeSpan.Zero);
        _stopping.Dispose();
        _endSessions.Dispose();
    }
}
