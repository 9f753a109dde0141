using System.Net;
using System.Net.Sockets;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Tests.Probe;

/// <summary>The resolver against a fake DNS server on 127.0.0.1, port 0: no real DNS is ever asked.</summary>
public sealed class MxResolverTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task LookupAsync_Sorts_Mx_Hosts_By_Preference()
    {
        using var server = FakeDns.Start(q => DnsResponses.Mx(q, 0, false, (20, "backup.example.com"), (5, "mx1.example.com"), (10, "mx2.example.org")));
        var lookup = await MxResolver.LookupAsync("example.com", server.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Null(lookup.Problem);
        Assert.False(lookup.Implicit);
        Assert.Equal(["mx1.example.com", "mx2.example.org", "backup.example.com"], lookup.Targets);
        Assert.Equal("example.com", server.LastQuestion);
    }

    [Fact]
    public async Task LookupAsync_Without_Mx_Falls_Back_To_The_Domain_Itself()
    {
        using var server = FakeDns.Start(q => DnsResponses.Mx(q, 0, false));
        var lookup = await MxResolver.LookupAsync("host.example", server.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.True(lookup.Implicit);
        Assert.Equal(["host.example"], lookup.Targets);
    }

    [Fact]
    public async Task LookupAsync_Reports_NxDomain_And_Null_Mx_As_Problems()
    {
        using (var nx = FakeDns.Start(q => DnsResponses.Mx(q, DnsResponse.NameError, false)))
        {
            var lookup = await MxResolver.LookupAsync("gone.example", nx.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
            Assert.Contains("does not exist (NXDOMAIN", lookup.Problem, StringComparison.Ordinal);
            Assert.Empty(lookup.Targets);
        }

        using var nullMx = FakeDns.Start(q => DnsResponses.Mx(q, 0, false, (0, "")));
        var none = await MxResolver.LookupAsync("nomail.example", nullMx.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Contains("null MX (RFC 7505)", none.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LookupAsync_Ignores_A_Datagram_With_Another_Id()
    {
        using var server = FakeDns.Start(q =>
        {
            var wrong = DnsResponses.Mx(q, 0, false, (1, "spoofed.example.com"));
            wrong[0] ^= 0xff;
            return wrong;
        }, q => DnsResponses.Mx(q, 0, false, (10, "real.example.com")));
        var lookup = await MxResolver.LookupAsync("example.com", server.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Equal(["real.example.com"], lookup.Targets);
    }

    [Fact]
    public async Task LookupAsync_Retries_Over_Tcp_When_Truncated()
    {
        using var server = FakeDns.Start(q => DnsResponses.Mx(q, 0, true), tcp: q => DnsResponses.Mx(q, 0, false, (10, "big.example.com")));
        var lookup = await MxResolver.LookupAsync("example.com", server.EndPoint, Timeout, TimeProvider.System, CancellationToken.None);
        Assert.Equal(["big.example.com"], lookup.Targets);
    }

    [Fact]
    public async Task LookupAsync_Times_Out_On_A_Silent_Server()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var e = await Assert.ThrowsAsync<TimeoutException>(() => MxResolver.LookupAsync("example.com", (IPEndPoint)silent.LocalEndPoint!, TimeSpan.FromMilliseconds(300), TimeProvider.System, CancellationToken.None));
        Assert.Contains("did not answer", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Answers each UDP query with the next responder (the last repeats), and TCP queries with <c>tcp</c>.</summary>
    private sealed class FakeDns : IDisposable
    {
        private readonly Socket _udp;
        private readonly TcpListener? _tcp;
        private readonly CancellationTokenSource _stop = new();

        private FakeDns(Socket udp, TcpListener? tcp)
        {
            _udp = udp;
            _tcp = tcp;
        }

        public IPEndPoint EndPoint => (IPEndPoint)_udp.LocalEndPoint!;

        public string? LastQuestion { get; private set; }

        public static FakeDns Start(Func<byte[], byte[]> first, Func<byte[], byte[]>? second = null, Func<byte[], byte[]>? tcp = null)
        {
            TcpListener? listener = null;
            var port = 0;
            if (tcp is not null)
            {
                listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            var server = new FakeDns(udp, listener);
            _ = server.ServeUdpAsync(second is null ? [first] : [first, second]);
            if (tcp is not null)
            {
                _ = server.ServeTcpAsync(tcp);
            }

            return server;
        }

        private async Task ServeUdpAsync(IReadOnlyList<Func<byte[], byte[]>> responders)
        {
            var buffer = new byte[512];
            try
            {
                var from = new IPEndPoint(IPAddress.Any, 0);
                var received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, from, _stop.Token);
                var query = buffer[..received.ReceivedBytes];
                var offset = 12;
                LastQuestion = DnsMessage.ReadName(query, ref offset);
                foreach (var responder in responders)
                {
                    await _udp.SendToAsync(responder(query), SocketFlags.None, received.RemoteEndPoint, _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        private async Task ServeTcpAsync(Func<byte[], byte[]> responder)
        {
            try
            {
                using var client = await _tcp!.AcceptTcpClientAsync(_stop.Token);
                var stream = client.GetStream();
                var prefix = new byte[2];
                await stream.ReadExactlyAsync(prefix, _stop.Token);
                var query = new byte[(prefix[0] << 8) | prefix[1]];
                await stream.ReadExactlyAsync(query, _stop.Token);
                var answer = responder(query);
                await stream.WriteAsync(new[] { (byte)(answer.Length >> 8), (byte)answer.Length }, _stop.Token);
                await stream.WriteAsync(answer, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _udp.Dispose();
            _tcp?.Stop();
            _stop.Dispose();
        }
    }
}
