using System.Net;
using System.Net.Sockets;

namespace SmtpLens.IntegrationTests.Relay;

/// <summary>A plain TCP relay that records every byte each way, placed between the proxy and the upstream.</summary>
internal sealed class ByteTap : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly MemoryStream _fromProxy = new();
    private readonly MemoryStream _fromUpstream = new();
    private Task? _run;

    public ByteTap(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        _run = RunAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public byte[] FromProxy
    {
        get
        {
            lock (_fromProxy)
            {
                return _fromProxy.ToArray();
            }
        }
    }

    public byte[] FromUpstream
    {
        get
        {
            lock (_fromUpstream)
            {
                return _fromUpstream.ToArray();
            }
        }
    }

    private async Task RunAsync()
    {
        using var inbound = await _listener.AcceptTcpClientAsync();
        using var outbound = new TcpClient();
        await outbound.ConnectAsync(_target);
        var a = CopyAsync(inbound.GetStream(), outbound.GetStream(), _fromProxy, outbound.Client);
        var b = CopyAsync(outbound.GetStream(), inbound.GetStream(), _fromUpstream, inbound.Client);
        await Task.WhenAll(a, b);
    }

    private static async Task CopyAsync(NetworkStream from, NetworkStream to, MemoryStream record, Socket toSocket)
    {
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer)) > 0)
            {
                lock (record)
                {
                    record.Write(buffer, 0, n);
                }

                await to.WriteAsync(buffer.AsMemory(0, n));
            }

            toSocket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The test asserts on what was recorded; a reset at the end is not its concern.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        if (_run is not null)
        {
            await Task.WhenAny(_run, Task.Delay(2000));
        }
    }
}
