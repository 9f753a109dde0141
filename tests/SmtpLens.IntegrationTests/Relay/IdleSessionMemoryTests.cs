using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SmtpLens.IntegrationTests.Tls;
using SmtpLens.Tls;
using Xunit.Abstractions;

namespace SmtpLens.IntegrationTests.Relay;

/// <summary>Measures the managed heap in this process, so nothing else may run beside it.</summary>
[CollectionDefinition(nameof(HeapMeasurement), DisableParallelization = true)]
public sealed class HeapMeasurement;

/// <summary>What an idle relayed session (banner and EHLO relayed, then silence) keeps on the heap.</summary>
[Collection(nameof(HeapMeasurement))]
public sealed class IdleSessionMemoryTests(ITestOutputHelper output)
{
    private const int Sessions = 200;

    [Fact]
    public async Task Idle_Sessions_With_Transcripts_Hold_Well_Under_64_KB_Each()
    {
        using var upstream = new TcpListener(IPAddress.Loopback, 0);
        upstream.Start(Sessions * 2);
        using var stop = new CancellationTokenSource();
        var upstreamSockets = new List<Socket>();
        var serving = ServeAsync(upstream, upstreamSockets, stop.Token);
        await using var f = await RelayFixture.StartAsync(null, (IPEndPoint)upstream.LocalEndpoint);
        var clients = new List<Socket>();
        try
        {
            // Warm-up: JIT, pools and timers exist before the baseline.
            for (var i = 0; i < 10; i++)
            {
                clients.Add(await OpenIdleAsync(f.ProxyEndPoint));
            }

            await SettleAsync(f, clients.Count);
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var opening = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < Sessions; i++)
            {
                clients.Add(await OpenIdleAsync(f.ProxyEndPoint));
            }

            await SettleAsync(f, clients.Count);
            var after = GC.GetTotalMemory(forceFullCollection: true);
            var perSession = (after - before) / (double)Sessions / 1024;
            output.WriteLine($"opened in {opening.Elapsed.TotalSeconds:F1} s");
            output.WriteLine($"{Sessions} idle sessions: heap {before / 1024.0 / 1024:F1} -> {after / 1024.0 / 1024:F1} MiB, {perSession:F1} KiB per session (proxy and both test peers)");

            // Before pooled transcript buffers and zero-byte reads this was about 330 KiB.
            Assert.True(perSession < 40, $"an idle session holds {perSession:F1} KiB of heap");
        }
        finally
        {
            // A few at a time: ending hundreds of sessions at once is a separate problem (issue 12, defect 1).
            foreach (var batch in clients.Chunk(10))
            {
                var remaining = f.Proxy.ActiveSessions - batch.Length;
                foreach (var client in batch)
                {
                    client.Dispose();
                }

                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (f.Proxy.ActiveSessions > remaining && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10);
                }
            }

            await stop.CancelAsync();
            await serving;
            lock (upstreamSockets)
            {
                upstreamSockets.ForEach(s => s.Dispose());
            }
        }
    }

    [Fact]
    public async Task Idle_Intercepted_Tls_Sessions_Hold_No_Read_Buffers()
    {
        const int tlsSessions = 100;
        using var pki = new TlsTestPki();
        using var certificate = pki.UpstreamCertificate("mx.upstream.test");
        using var upstream = new TcpListener(IPAddress.Loopback, 0);
        upstream.Start(tlsSessions * 2);
        using var stop = new CancellationTokenSource();
        var peers = new List<IDisposable>();
        var serving = ServeTlsAsync(upstream, certificate, peers, stop.Token);
        await using var f = await RelayFixture.StartAsync(null, (IPEndPoint)upstream.LocalEndpoint, tls: new TlsInterceptionOptions { Authority = pki.ProxyCa });
        var clients = new List<SslStream>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                clients.Add(await OpenIdleTlsAsync(f.ProxyEndPoint, pki.ProxyCa.Certificate.Subject));
            }

            await SettleAsync(f, clients.Count);
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var opening = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < tlsSessions; i++)
            {
                clients.Add(await OpenIdleTlsAsync(f.ProxyEndPoint, pki.ProxyCa.Certificate.Subject));
            }

            await SettleAsync(f, clients.Count);
            var after = GC.GetTotalMemory(forceFullCollection: true);
            var perSession = (after - before) / (double)tlsSessions / 1024;
            output.WriteLine($"opened in {opening.Elapsed.TotalSeconds:F1} s");
            output.WriteLine($"{tlsSessions} idle TLS sessions: heap {before / 1024.0 / 1024:F1} -> {after / 1024.0 / 1024:F1} MiB, {perSession:F1} KiB per session (proxy and both test peers)");

            // Two decrypted pipes (64 KiB each) and two TLS network buffers (18 KiB each) held while waiting were
            // about 165 KiB per session on their own; zero-byte reads through the TLS stream leave none of them.
            Assert.True(perSession < 150, $"an idle TLS session holds {perSession:F1} KiB of heap");
        }
        finally
        {
            foreach (var batch in clients.Chunk(10))
            {
                var remaining = f.Proxy.ActiveSessions - batch.Length;
                foreach (var client in batch)
                {
                    await client.DisposeAsync();
                }

                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (f.Proxy.ActiveSessions > remaining && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10);
                }
            }

            await stop.CancelAsync();
            await serving;
            lock (peers)
            {
                peers.ForEach(p => p.Dispose());
            }
        }
    }

    /// <summary>Banner, EHLO, STARTTLS, handshake and EHLO again, then the session sits; the client waits with a
    /// zero-byte read so that its own TLS stream holds no buffer in this process's heap either.</summary>
    private static async Task<SslStream> OpenIdleTlsAsync(IPEndPoint proxy, string interceptionCa)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        await ReadReplyAsync(socket, "220 ");
        await socket.SendAsync("EHLO idle.test\r\n"u8.ToArray(), SocketFlags.None);
        await ReadReplyAsync(socket, "250 ");
        await socket.SendAsync("STARTTLS\r\n"u8.ToArray(), SocketFlags.None);
        await ReadReplyAsync(socket, "220 ");
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "mx.upstream.test", RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Issuer == interceptionCa });
        await tls.WriteAsync("EHLO idle.test\r\n"u8.ToArray());
        await ReadTlsReplyAsync(tls, "250 ");
        _ = tls.ReadAsync(Memory<byte>.Empty).AsTask();
        return tls;
    }

    private static async Task ReadTlsReplyAsync(Stream stream, string last)
    {
        var seen = new StringBuilder();
        var buffer = new byte[512];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!seen.ToString().Contains(last, StringComparison.Ordinal) || !seen.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(n > 0, $"connection closed after {seen}");
            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    /// <summary>An upstream that offers STARTTLS, answers EHLO before and after it, then waits with zero-byte reads.</summary>
    private static async Task ServeTlsAsync(TcpListener listener, X509Certificate2 certificate, List<IDisposable> peers, CancellationToken stop)
    {
        var pending = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            lock (peers)
            {
                peers.Add(socket);
            }

            pending.Add(GreetTlsAsync(socket, certificate, peers, stop));
        }

        await Task.WhenAll(pending);
    }

    private static async Task GreetTlsAsync(Socket socket, X509Certificate2 certificate, List<IDisposable> peers, CancellationToken stop)
    {
        try
        {
            var plain = new NetworkStream(socket, ownsSocket: false);
            await plain.WriteAsync("220 upstream.test ESMTP\r\n"u8.ToArray(), stop);
            await ReadLineAsync(plain, stop);
            await plain.WriteAsync("250-upstream.test\r\n250 STARTTLS\r\n"u8.ToArray(), stop);
            await ReadLineAsync(plain, stop);
            await plain.WriteAsync("220 2.0.0 go ahead\r\n"u8.ToArray(), stop);
            var tls = new SslStream(plain);
            lock (peers)
            {
                peers.Add(tls);
            }

            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, stop);
            await ReadLineAsync(tls, stop);
            await tls.WriteAsync("250-upstream.test\r\n250 8BITMIME\r\n"u8.ToArray(), stop);
            while (await tls.ReadAsync(Memory<byte>.Empty, stop) >= 0 && await ReadLineAsync(tls, stop))
            {
            }

            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // The test is over.
        }
    }

    /// <summary>Reads one line a byte at a time (no read-ahead across STARTTLS); false at end of stream.</summary>
    private static async Task<bool> ReadLineAsync(Stream stream, CancellationToken stop)
    {
        var one = new byte[1];
        do
        {
            if (await stream.ReadAsync(one, stop) == 0)
            {
                return false;
            }
        }
        while (one[0] != (byte)'\n');
        return true;
    }

    /// <summary>Banner and EHLO relayed, then the session sits (the proxy has read everything both sides sent).</summary>
    private static async Task<Socket> OpenIdleAsync(IPEndPoint proxy)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        await ReadReplyAsync(socket, "220 ");
        await socket.SendAsync("EHLO idle.test\r\n"u8.ToArray(), SocketFlags.None);
        await ReadReplyAsync(socket, "250 ");
        return socket;
    }

    private static async Task ReadReplyAsync(Socket socket, string last)
    {
        var seen = new StringBuilder();
        var buffer = new byte[512];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!seen.ToString().Contains(last, StringComparison.Ordinal) || !seen.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.True(n > 0, $"connection closed after {seen}");
            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }

    /// <summary>All sessions running, and a moment for both pumps to go back to waiting for data.</summary>
    private static async Task SettleAsync(RelayFixture f, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (f.Proxy.ActiveSessions < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(expected, f.Proxy.ActiveSessions);
        // The transcript writer flushes its batch within 100 ms; the pumps re-arm their reads at once.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
    }

    /// <summary>A minimal upstream: banner, one EHLO reply, then silence until the other end closes.</summary>
    private static async Task ServeAsync(TcpListener listener, List<Socket> sockets, CancellationToken stop)
    {
        var pending = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            lock (sockets)
            {
                sockets.Add(socket);
            }

            pending.Add(GreetAsync(socket, stop));
        }

        await Task.WhenAll(pending);
    }

    private static async Task GreetAsync(Socket socket, CancellationToken stop)
    {
        try
        {
            await socket.SendAsync("220 upstream.test ESMTP\r\n"u8.ToArray(), SocketFlags.None, stop);
            var buffer = new byte[256];
            var seen = 0;
            while (seen == 0 || buffer[seen - 1] != (byte)'\n')
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(seen), SocketFlags.None, stop);
                if (n == 0)
                {
                    return;
                }

                seen += n;
            }

            await socket.SendAsync("250-upstream.test\r\n250 8BITMIME\r\n"u8.ToArray(), SocketFlags.None, stop);

            // Silence until the proxy passes on the client's close; then close too, as an MTA would.
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop) > 0)
            {
            }

            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The test is over.
        }
    }
}
