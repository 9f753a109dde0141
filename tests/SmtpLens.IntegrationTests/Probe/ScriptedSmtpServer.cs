using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SmtpLens.IntegrationTests.Probe;

/// <summary>One scripted SMTP (or not quite SMTP) server on 127.0.0.1, port 0, for the cases no real MTA
/// produces on demand: garbage, silence, a masking firewall, a server that drops after the handshake.</summary>
internal sealed class ScriptedSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private ScriptedSmtpServer(Func<Conversation, Task> script, IPEndPoint bind)
    {
        _listener = new TcpListener(bind);
        _listener.Start();
        _loop = AcceptAsync(script);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public IPAddress Address => ((IPEndPoint)_listener.LocalEndpoint).Address;

    /// <summary>Every line the server received, across connections.</summary>
    public List<string> Received { get; } = [];

    public static ScriptedSmtpServer Start(Func<Conversation, Task> script) => new(script, new IPEndPoint(IPAddress.Loopback, 0));

    /// <summary>Listens on <paramref name="bind"/> (another loopback address such as 127.0.0.2, or a port already
    /// taken on a sibling address); throws SocketException AddressAlreadyInUse when the port is taken there.</summary>
    public static ScriptedSmtpServer Start(Func<Conversation, Task> script, IPEndPoint bind) => new(script, bind);

    private async Task AcceptAsync(Func<Conversation, Task> script)
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        try
                        {
                            await script(new Conversation(client.GetStream(), this, _stop.Token));
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException or AuthenticationException or ObjectDisposedException)
                        {
                            // The probe hung up or the test ended.
                        }
                    }
                });
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }

    /// <summary>The server's side of one connection.</summary>
    internal sealed class Conversation(Stream stream, ScriptedSmtpServer server, CancellationToken stop)
    {
        private Stream _stream = stream;

        public CancellationToken Stop => stop;

        public async Task SendAsync(params string[] lines)
        {
            await _stream.WriteAsync(Encoding.ASCII.GetBytes(string.Concat(lines.Select(l => l + "\r\n"))), stop);
            await _stream.FlushAsync(stop);
        }

        public async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes, stop);

        /// <summary>The next command line, or null when the probe closed.</summary>
        public async Task<string?> ReadLineAsync()
        {
            var line = new List<byte>();
            var one = new byte[1];
            while (await _stream.ReadAsync(one, stop) == 1)
            {
                if (one[0] == '\n')
                {
                    var text = Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
                    lock (server.Received)
                    {
                        server.Received.Add(text);
                    }

                    return text;
                }

                line.Add(one[0]);
            }

            return null;
        }

        /// <summary>Greets as <paramref name="name"/> and answers the EHLO with STARTTLS offered.</summary>
        public async Task GreetOfferingStartTlsAsync(string name)
        {
            await SendAsync($"220 {name} ESMTP");
            await ExpectAsync($"250-{name}", "250 STARTTLS");
        }

        /// <summary>Reads a command and answers it with <paramref name="reply"/>; returns the command.</summary>
        public async Task<string?> ExpectAsync(params string[] reply)
        {
            var line = await ReadLineAsync();
            if (line is not null)
            {
                await SendAsync(reply);
            }

            return line;
        }

        public async Task StartTlsAsync(X509Certificate2 certificate, SslProtocols protocols = SslProtocols.None)
        {
            var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate, EnabledSslProtocols = protocols }, stop);
            _stream = tls;
        }

        /// <summary>Answers whatever comes until QUIT (221) or the probe hangs up.</summary>
        public async Task AnswerRestAsync()
        {
            while (await ReadLineAsync() is { } line)
            {
                if (line.StartsWith("QUIT", StringComparison.OrdinalIgnoreCase))
                {
                    await SendAsync("221 2.0.0 Bye");
                    return;
                }

                await SendAsync("502 5.5.2 Error: command not recognized");
            }
        }
    }
}
