using System.Net;
using PacketDotNet;

namespace SmtpLens.Capture;

/// <summary>One TCP connection as raw IP packets (LINKTYPE_RAW): handshake, data with sequence and
/// acknowledgement numbers, FIN or RST per direction, valid IPv4/IPv6 and TCP checksums.</summary>
/// <remarks>Pure: the caller says what happened on the wire, this turns it into the packets a capture on the host
/// would hold. Every segment acknowledges everything the other side sent so far, so Wireshark reassembles the
/// stream without "previous segment not captured" or "ACKed unseen segment".</remarks>
internal sealed class TcpConversation
{
    /// <summary>Largest payload per packet: an IPv4 total length (and IPv6 payload length) is 16 bits.</summary>
    public const int MaxSegment = 65000;

    private const ushort Window = 65535;
    private readonly IPEndPoint _initiator;
    private readonly IPEndPoint _responder;
    private readonly Side _fromInitiator;
    private readonly Side _fromResponder;
    private ushort _ipId;
    private bool _reset;

    public TcpConversation(IPEndPoint initiator, IPEndPoint responder, uint initiatorIsn, uint responderIsn)
    {
        (_initiator, _responder) = Normalize(initiator, responder);
        _fromInitiator = new Side(initiatorIsn);
        _fromResponder = new Side(responderIsn);
    }

    public IPEndPoint Initiator => _initiator;

    public IPEndPoint Responder => _responder;

    /// <summary>No more packets: a RST was sent, or both sides sent FIN.</summary>
    public bool Ended => _reset || (_fromInitiator.Finished && _fromResponder.Finished);

    public bool Finished(bool fromInitiator) => _reset || (fromInitiator ? _fromInitiator : _fromResponder).Finished;

    /// <summary>SYN, SYN-ACK, ACK.</summary>
    public IReadOnlyList<byte[]> Open()
    {
        var syn = Build(true, _fromInitiator.Next, 0, syn: true, ack: false, fin: false, rst: false, []);
        _fromInitiator.Next++;
        var synAck = Build(false, _fromResponder.Next, _fromInitiator.Next, syn: true, ack: true, fin: false, rst: false, []);
        _fromResponder.Next++;
        var ack = Build(true, _fromInitiator.Next, _fromResponder.Next, syn: false, ack: true, fin: false, rst: false, []);
        return [syn, synAck, ack];
    }

    /// <summary>Data segments (PSH, ACK) carrying <paramref name="payload"/>, split at <see cref="MaxSegment"/>.</summary>
    public IReadOnlyList<byte[]> Data(bool fromInitiator, ReadOnlySpan<byte> payload)
    {
        var packets = new List<byte[]>();
        var side = fromInitiator ? _fromInitiator : _fromResponder;
        if (_reset || side.Finished)
        {
            return packets;
        }

        var other = fromInitiator ? _fromResponder : _fromInitiator;
        for (var at = 0; at < payload.Length; at += MaxSegment)
        {
            var chunk = payload.Slice(at, Math.Min(MaxSegment, payload.Length - at));
            packets.Add(Build(fromInitiator, side.Next, other.Next, syn: false, ack: true, fin: false, rst: false, chunk));
            side.Next += (uint)chunk.Length;
        }

        return packets;
    }

    /// <summary>FIN, ACK from one side; null when that side already closed or the connection was reset.</summary>
    public byte[]? Fin(bool fromInitiator)
    {
        var side = fromInitiator ? _fromInitiator : _fromResponder;
        if (_reset || side.Finished)
        {
            return null;
        }

        var other = fromInitiator ? _fromResponder : _fromInitiator;
        var fin = Build(fromInitiator, side.Next, other.Next, syn: false, ack: true, fin: true, rst: false, []);
        side.Next++;
        side.Finished = true;
        return fin;
    }

    /// <summary>RST, ACK from one side (an abort); null once reset already.</summary>
    public byte[]? Reset(bool fromInitiator)
    {
        if (_reset)
        {
            return null;
        }

        _reset = true;
        var side = fromInitiator ? _fromInitiator : _fromResponder;
        var other = fromInitiator ? _fromResponder : _fromInitiator;
        return Build(fromInitiator, side.Next, other.Next, syn: false, ack: true, fin: false, rst: true, []);
    }

    private byte[] Build(bool fromInitiator, uint seq, uint ackNumber, bool syn, bool ack, bool fin, bool rst, ReadOnlySpan<byte> payload)
    {
        var (source, destination) = fromInitiator ? (_initiator, _responder) : (_responder, _initiator);
        var tcp = new TcpPacket((ushort)source.Port, (ushort)destination.Port)
        {
            SequenceNumber = seq,
            AcknowledgmentNumber = ackNumber,
            WindowSize = Window,
            Synchronize = syn,
            Acknowledgment = ack,
            Finished = fin,
            Reset = rst,
            Push = !payload.IsEmpty,
            PayloadData = payload.ToArray(),
        };
        IPPacket ip = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? new IPv4Packet(source.Address, destination.Address) { TimeToLive = 64, Id = _ipId++ }
            : new IPv6Packet(source.Address, destination.Address) { HopLimit = 64 };
        ip.PayloadPacket = tcp;
        ip.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        if (ip is IPv4Packet v4)
        {
            v4.UpdateIPChecksum();
        }

        return ip.Bytes;
    }

    /// <summary>Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; on the wire they are IPv4.</summary>
    private static (IPEndPoint, IPEndPoint) Normalize(IPEndPoint a, IPEndPoint b)
    {
        var x = a.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(a.Address.MapToIPv4(), a.Port) : a;
        var y = b.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(b.Address.MapToIPv4(), b.Port) : b;
        if (x.AddressFamily != y.AddressFamily)
        {
            x = new IPEndPoint(x.Address.MapToIPv6(), x.Port);
            y = new IPEndPoint(y.Address.MapToIPv6(), y.Port);
        }

        return (x, y);
    }

    private sealed class Side(uint isn)
    {
        public uint Next { get; set; } = isn;

        public bool Finished { get; set; }
    }
}
