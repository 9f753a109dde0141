using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmtpLens.Tests.Support;

/// <summary>A small HTTP/1.1 server on loopback port 0 that serves a CRL at <c>/ca.crl</c> and answers OCSP POSTs at
/// <c>/ocsp</c>, one request per connection, for revocation tests.</summary>
internal sealed class RevocationHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    public RevocationHttpServer()
    {
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public Func<byte[]>? Crl { get; set; }

    public Func<byte[], byte[]>? Ocsp { get; set; }

    /// <summary>Held before every answer: a slow CA, so results arrive after the session ended.</summary>
    public TimeSpan Delay { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new List<byte>();
                var one = new byte[1];
                while (!EndsWithBlankLine(head) && await stream.ReadAsync(one, _stop.Token) == 1)
                {
                    head.Add(one[0]);
                }

                var lines = Encoding.ASCII.GetString([.. head]).Split("\r\n");
                var request = lines[0].Split(' ');
                var length = lines.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(p => int.Parse(p[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
                var body = new byte[length];
                await stream.ReadExactlyAsync(body, _stop.Token);
                Interlocked.Increment(ref _requests);
                if (Delay > TimeSpan.Zero)
                {
                    await Task.Delay(Delay, _stop.Token);
                }

                var (status, type, answer) = (request[0], request[1]) switch
                {
                    ("GET", "/ca.crl") when Crl is not null => ("200 OK", "application/pkix-crl", Crl()),
                    ("POST", "/ocsp") when Ocsp is not null => ("200 OK", "application/ocsp-response", Ocsp(body)),
                    _ => ("404 Not Found", "text/plain", "not here"u8.ToArray()),
                };
                var header = Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: {type}\r\nContent-Length: {answer.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(header, _stop.Token);
                await stream.WriteAsync(answer, _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or FormatException or IndexOutOfRangeException)
            {
                // A client that went away, or the server stopping.
            }
        }
    }

    private static bool EndsWithBlankLine(List<byte> head) =>
        head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n';

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
