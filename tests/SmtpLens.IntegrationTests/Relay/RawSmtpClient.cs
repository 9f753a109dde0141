using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmtpLens.IntegrationTests.Relay;

/// <summary>A byte-level client for protocol edge cases: sends exactly what it is told, records what it gets.</summary>
internal sealed class RawSmtpClient : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly MemoryStream _sent = new();
    private readonly MemoryStream _received = new();

    public byte[] Sent => _sent.ToArray();

    public byte[] Received => _received.ToArray();

    public string ReceivedText => Encoding.UTF8.GetString(_received.ToArray());

    public static async Task<RawSmtpClient> ConnectAsync(IPEndPoint endPoint)
    {
        var client = new RawSmtpClient();
        await client._socket.ConnectAsync(endPoint);
        return client;
    }

    public async Task SendAsync(byte[] bytes)
    {
        _sent.Write(bytes);
        await _socket.SendAsync(bytes, SocketFlags.None);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads until the received text contains <paramref name="marker"/> after <paramref name="from"/>.</summary>
    public async Task<bool> ReadUntilAsync(string marker, TimeSpan? timeout = null, int from = 0)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var buffer = new byte[8192];
        while (ReceivedText.IndexOf(marker, from, StringComparison.Ordinal) < 0)
        {
            int n;
            try
            {
                n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                return false;
            }

            if (n == 0)
            {
                return false;
            }

            _received.Write(buffer, 0, n);
        }

        return true;
    }

    /// <summary>Reads until the peer closes; true if it closed within the timeout.</summary>
    public async Task<bool> ReadToEndAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                _received.Write(buffer, 0, n);
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Close() => _socket.Close();

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
