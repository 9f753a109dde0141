using System.Net;
using System.Text;

namespace SmtpLens.Capture;

/// <summary>Turns what happened on a session's two legs into one pcapng section: a Section Header, one interface
/// per leg, the legs' TCP packets and the TLS secrets in Decryption Secrets Blocks ahead of the packets that need them.</summary>
/// <remarks>Synchronous over a stream and free of clocks: the caller passes each event's time. While a TLS handshake is
/// under way (<see cref="Hold"/>) packets are kept back; <see cref="Release"/> writes the secrets the handshake
/// produced, then those packets, because Wireshark reads a file once, front to back, and can only decrypt a record
/// whose keys it has already seen.</remarks>
internal sealed class CaptureWriter(Stream output, string sessionId)
{
    /// <summary>if_tsresol: microseconds.</summary>
    public const byte TsResolution = 6;

    private readonly TcpConversation?[] _legs = new TcpConversation?[2];
    private readonly List<(CaptureLeg Leg, ulong Time, byte[] Packet, bool Inbound)> _held = [];
    private bool _started;
    private bool _holding;
    private ulong _last;

    /// <summary>Packets written so far (held ones count once written).</summary>
    public int Packets { get; private set; }

    /// <summary>The leg's TCP handshake. <paramref name="smtpLens"/> is SmtpLens's own end, <paramref name="peer"/> the other.</summary>
    public void Open(CaptureLeg leg, IPEndPoint smtpLens, IPEndPoint peer, DateTimeOffset time)
    {
        if (_legs[(int)leg] is not null)
        {
            return;
        }

        // The client dialled SmtpLens; SmtpLens dialled the upstream. Fixed ISNs per leg keep files reproducible.
        var conversation = leg == CaptureLeg.Client
            ? new TcpConversation(peer, smtpLens, 0x10000000, 0x20000000)
            : new TcpConversation(smtpLens, peer, 0x30000000, 0x40000000);
        _legs[(int)leg] = conversation;
        var packets = conversation.Open();
        for (var i = 0; i < packets.Count; i++)
        {
            Emit(leg, time, packets[i], Inbound(leg, fromInitiator: i != 1));
        }
    }

    /// <summary>Bytes read from (<paramref name="inbound"/>) or written to the leg's peer.</summary>
    public void Data(CaptureLeg leg, bool inbound, ReadOnlySpan<byte> bytes, DateTimeOffset time)
    {
        if (_legs[(int)leg] is not { } conversation)
        {
            return;
        }

        foreach (var packet in conversation.Data(FromInitiator(leg, inbound), bytes))
        {
            Emit(leg, time, packet, inbound);
        }
    }

    /// <summary>The peer's FIN (a read returned end of stream) or SmtpLens's own.</summary>
    public void Fin(CaptureLeg leg, bool inbound, DateTimeOffset time)
    {
        if (_legs[(int)leg]?.Fin(FromInitiator(leg, inbound)) is { } packet)
        {
            Emit(leg, time, packet, inbound);
        }
    }

    /// <summary>A connection reset by the peer (<paramref name="inbound"/>) or aborted by SmtpLens.</summary>
    public void Reset(CaptureLeg leg, bool inbound, DateTimeOffset time)
    {
        if (_legs[(int)leg]?.Reset(FromInitiator(leg, inbound)) is { } packet)
        {
            Emit(leg, time, packet, inbound);
        }
    }

    /// <summary>A TLS handshake starts: keep packets back until its secrets are known.</summary>
    public void Hold() => _holding = true;

    /// <summary>Writes <paramref name="keyLogLines"/> (NSS key-log lines) as a Decryption Secrets Block, then the held packets.</summary>
    public void Release(IReadOnlyList<string> keyLogLines)
    {
        Start();
        if (keyLogLines.Count > 0)
        {
            var text = string.Concat(keyLogLines.Select(l => l + "\n"));
            output.Write(PcapngBlocks.DecryptionSecrets(PcapngBlocks.TlsKeyLogSecrets, Encoding.ASCII.GetBytes(text)));
        }

        _holding = false;
        foreach (var (leg, time, packet, inbound) in _held)
        {
            Write(leg, time, packet, inbound);
        }

        _held.Clear();
    }

    /// <summary>Ends both legs: an abort resets what is still open from SmtpLens's side, a clean end closes it with FIN.</summary>
    public void End(bool aborted, IReadOnlyList<string> keyLogLines, DateTimeOffset time)
    {
        Release(keyLogLines);
        foreach (var leg in new[] { CaptureLeg.Client, CaptureLeg.Upstream })
        {
            if (_legs[(int)leg] is not { Ended: false } conversation)
            {
                continue;
            }

            if (aborted)
            {
                Reset(leg, inbound: false, time);
            }
            else
            {
                Fin(leg, inbound: false, time);
            }
        }
    }

    /// <summary>The section header and both interfaces, once, before anything else.</summary>
    private void Start()
    {
        if (_started)
        {
            return;
        }

        _started = true;
        output.Write(PcapngBlocks.SectionHeader("SmtpLens"));
        output.Write(PcapngBlocks.InterfaceDescription(PcapngBlocks.LinkTypeRaw, $"{sessionId} client leg", "sending MTA <-> SmtpLens (inbound: towards SmtpLens)", TsResolution));
        output.Write(PcapngBlocks.InterfaceDescription(PcapngBlocks.LinkTypeRaw, $"{sessionId} upstream leg", "SmtpLens <-> next hop (inbound: towards SmtpLens)", TsResolution));
    }

    private void Emit(CaptureLeg leg, DateTimeOffset time, byte[] packet, bool inbound)
    {
        // Two pumps record concurrently; a later event never goes back in time in the file.
        var micros = (ulong)Math.Max(0, (time - DateTimeOffset.UnixEpoch).Ticks / 10);
        _last = Math.Max(_last, micros);
        if (_holding)
        {
            _held.Add((leg, _last, packet, inbound));
            return;
        }

        Write(leg, _last, packet, inbound);
    }

    private void Write(CaptureLeg leg, ulong time, byte[] packet, bool inbound)
    {
        Start();
        output.Write(PcapngBlocks.EnhancedPacket((uint)leg, time, packet, inbound));
        Packets++;
    }

    /// <summary>On the client leg the peer opened the connection; on the upstream leg SmtpLens did.</summary>
    private static bool FromInitiator(CaptureLeg leg, bool inbound) => leg == CaptureLeg.Client ? inbound : !inbound;

    private static bool Inbound(CaptureLeg leg, bool fromInitiator) => leg == CaptureLeg.Client ? fromInitiator : !fromInitiator;
}
