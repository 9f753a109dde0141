using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SmtpLens.IntegrationTests.Policy;

/// <summary>A minimal HTTPS server on 127.0.0.1, port 0, serving one MTA-STS policy (or a chosen status) to each GET,
/// with a certificate made at run time. It records the Host header and path of every request.</summary>
internal sealed class PolicyHttpsServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public PolicyHttpsServer(X509Certificate2 certificate)
    {
        _certificate = certificate;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Body { get; set; } = string.Empty;

    /// <summary>"200 OK", "301 Moved Permanently", ...</summary>
    public string Status { get; set; } = "200 OK";

    /// <summary>The Content-Type header of a 200 answer; null sends none.</summary>
    public string? ContentType { get; set; } = "text/plain";

    /// <summary>Extra header lines of every answer ("Cache-Control: max-age=86400").</summary>
    public string ExtraHeaders { get; set; } = string.Empty;

    public List<(string Host, string Path)> Requests { get; } = [];

    /// <summary>Every request's header lines, as received.</summary>
    public List<string[]> RequestHeaders { get; } = [];

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = ServeAsync(client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await using var tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                var head = new StringBuilder();
                var buffer = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await tls.ReadAsync(buffer, _stop.Token) == 1)
                {
                    head.Append((char)buffer[0]);
                }

                var lines = head.ToString().Split("\r\n");
                var path = lines[0].Split(' ')[1];
                var host = lines.FirstOrDefault(l => l.StartsWith("Host:", StringComparison.OrdinalIgnoreCase))?[5..].Trim() ?? string.Empty;
                lock (Requests)
                {
                    Requests.Add((host, path));
                    RequestHeaders.Add(lines[1..]);
                }

                var body = Encoding.ASCII.GetBytes(Status.StartsWith("200", StringComparison.Ordinal) ? Body : string.Empty);
                var location = Status.StartsWith('3') ? "Location: https://elsewhere.example.test/.well-known/mta-sts.txt\r\n" : string.Empty;
                var type = ContentType is null ? string.Empty : $"Content-Type: {ContentType}\r\n";
                var extra = ExtraHeaders.Length == 0 ? string.Empty : ExtraHeaders.TrimEnd() + "\r\n";
                var response = $"HTTP/1.1 {Status}\r\n{type}Content-Length: {body.Length}\r\n{location}{extra}Connection: close\r\n\r\n";
                await tls.WriteAsync(Encoding.ASCII.GetBytes(response), _stop.Token);
                await tls.WriteAsync(body, _stop.Token);
                await tls.FlushAsync(_stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
            {
                // A client that gave up, or the server stopping.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
