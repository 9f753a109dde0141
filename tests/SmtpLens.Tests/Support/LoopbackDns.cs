using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmtpLens.Tests.Support;

/// <summary>A tiny authoritative-looking DNS responder on 127.0.0.1 (UDP and TCP on one port 0): answers from a
/// zone the test fills, sets the AD bit for names the test marks signed, and can force truncation to test the TCP
/// fallback. No real DNS is ever asked.</summary>
internal sealed class LoopbackDns : IDisposable
{
    public const ushort A = 1;
    public const ushort Mx = 15;
    public const ushort Txt = 16;
    public const ushort Aaaa = 28;
    public const ushort Tlsa = 52;

    private readonly Socket _udp;
    private readonly TcpListener _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<(string Name, ushort Type), List<byte[]>> _records = new();
    private readonly ConcurrentDictionary<string, bool> _signed = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _rcodes = new(StringComparer.OrdinalIgnoreCase);

    private LoopbackDns()
    {
        _tcp = new TcpListener(IPAddress.Loopback, 0);
        _tcp.Start();
        _udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _udp.Bind(new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)_tcp.LocalEndpoint).Port));
    }

    public IPEndPoint EndPoint => (IPEndPoint)_udp.LocalEndPoint!;

    /// <summary>Every question asked (name, type, over TCP, DO bit set), in order.</summary>
    public ConcurrentQueue<(string Name, ushort Type, bool Tcp, bool DnssecOk)> Questions { get; } = new();

    /// <summary>UDP answers carry TC and no records: the client must ask again over TCP.</summary>
    public bool TruncateUdp { get; set; }

    /// <summary>The next UDP answer is preceded by one whose id differs from the query's (a spoofing attempt).</summary>
    public bool SendWrongIdFirst { get; set; }

    /// <summary>Neither UDP nor TCP answers (a silent server).</summary>
    public bool Silent { get; set; }

    public static LoopbackDns Start()
    {
        var dns = new LoopbackDns();
        _ = dns.ServeUdpAsync();
        _ = dns.ServeTcpAsync();
        return dns;
    }

    public LoopbackDns AddMx(string name, int preference, string exchange) =>
        Add(name, Mx, [(byte)(preference >> 8), (byte)preference, .. EncodeName(exchange)]);

    public LoopbackDns AddTxt(string name, params string[] strings)
    {
        var rdata = new List<byte>();
        foreach (var s in strings)
        {
            var bytes = Encoding.ASCII.GetBytes(s);
            rdata.Add((byte)bytes.Length);
            rdata.AddRange(bytes);
        }

        return Add(name, Txt, [.. rdata]);
    }

    public LoopbackDns AddTlsa(string name, int usage, int selector, int matching, byte[] data) =>
        Add(name, Tlsa, [(byte)usage, (byte)selector, (byte)matching, .. data]);

    public LoopbackDns AddAddress(string name, IPAddress address) =>
        Add(name, address.AddressFamily == AddressFamily.InterNetwork ? A : Aaaa, address.GetAddressBytes());

    /// <summary>Answers for this name carry the AD bit (as a validating resolver sets it for a signed zone).</summary>
    public LoopbackDns Sign(string name)
    {
        _signed[name.TrimEnd('.')] = true;
        return this;
    }

    public LoopbackDns ResponseCode(string name, int rcode)
    {
        _rcodes[name.TrimEnd('.')] = rcode;
        return this;
    }

    private LoopbackDns Add(string name, ushort type, byte[] rdata)
    {
        _records.GetOrAdd((name.TrimEnd('.').ToLowerInvariant(), type), _ => []).Add(rdata);
        return this;
    }

    public static byte[] EncodeName(string domain)
    {
        var bytes = new List<byte>();
        foreach (var label in domain.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }

        bytes.Add(0);
        return [.. bytes];
    }

    /// <summary>An uncompressed name at <paramref name="offset"/> (queries carry no pointers); moves past it.</summary>
    public static string ReadName(ReadOnlySpan<byte> message, ref int offset)
    {
        var labels = new List<string>();
        while (message[offset] != 0)
        {
            var length = message[offset];
            labels.Add(Encoding.ASCII.GetString(message.Slice(offset + 1, length)));
            offset += 1 + length;
        }

        offset++;
        return string.Join('.', labels);
    }

    /// <summary>The answer to <paramref name="query"/> from the zone (RFC 1035 4.1; OPT echoed when the query had one).</summary>
    public byte[] Answer(byte[] query, bool tcp)
    {
        var offset = 12;
        var name = ReadName(query, ref offset);
        var type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(offset));
        var questionEnd = offset + 4;
        var edns = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(10)) > 0 && query.Length >= questionEnd + 11;
        var dnssecOk = edns && (query[questionEnd + 7] & 0x80) != 0;
        Questions.Enqueue((name, type, tcp, dnssecOk));
        var key = (name.ToLowerInvariant(), type);
        var records = _records.TryGetValue(key, out var found) ? found : [];
        var exists = _records.Keys.Any(k => k.Name == key.Item1);
        var rcode = _rcodes.TryGetValue(name, out var forced) ? forced : exists ? 0 : 3;
        var truncate = TruncateUdp && !tcp;
        var authentic = _signed.ContainsKey(name) && rcode is 0 or 3;
        var answers = truncate || rcode != 0 ? [] : records;
        var message = new List<byte>();
        message.AddRange(query.AsSpan(0, 2).ToArray());
        message.Add((byte)(0x81 | (truncate ? 0x02 : 0) | (query[2] & 0x01)));
        message.Add((byte)(0x80 | (authentic ? 0x20 : 0) | rcode));
        message.AddRange([0, 1, (byte)(answers.Count >> 8), (byte)answers.Count, 0, 0, 0, (byte)(edns ? 1 : 0)]);
        message.AddRange(query.AsSpan(12, questionEnd - 12).ToArray());
        foreach (var rdata in answers)
        {
            message.AddRange([0xc0, 0x0c, (byte)(type >> 8), (byte)type, 0, 1, 0, 0, 0x0e, 0x10, (byte)(rdata.Length >> 8), (byte)rdata.Length]);
            message.AddRange(rdata);
        }

        if (edns)
        {
            // OPT: root name, type 41, UDP size 1232, extended rcode 0, version 0, DO echoed, no options.
            message.AddRange([0, 0, 41, 0x04, 0xd0, 0, 0, (byte)(dnssecOk ? 0x80 : 0), 0, 0, 0]);
        }

        return [.. message];
    }

    private async Task ServeUdpAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                if (Silent)
                {
                    continue;
                }

                var answer = Answer(buffer[..received.ReceivedBytes], tcp: false);
                if (SendWrongIdFirst)
                {
                    SendWrongIdFirst = false;
                    var wrong = (byte[])answer.Clone();
                    wrong[0] ^= 0xff;
                    await _udp.SendToAsync(wrong, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
                }

                await _udp.SendToAsync(answer, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task ServeTcpAsync()
    {
        try
        {
            while (true)
            {
                var client = await _tcp.AcceptTcpClientAsync(_stop.Token);
                _ = ServeTcpClientAsync(client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task ServeTcpClientAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var prefix = new byte[2];
                while (true)
                {
                    await stream.ReadExactlyAsync(prefix, _stop.Token);
                    var query = new byte[(prefix[0] << 8) | prefix[1]];
                    await stream.ReadExactlyAsync(query, _stop.Token);
                    if (Silent)
                    {
                        continue;
                    }

                    var answer = Answer(query, tcp: true);
                    await stream.WriteAsync(new[] { (byte)(answer.Length >> 8), (byte)answer.Length }, _stop.Token);
                    await stream.WriteAsync(answer, _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException or EndOfStreamException)
            {
                // Closed or stopped.
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
        _tcp.Stop();
        _stop.Dispose();
    }
}
