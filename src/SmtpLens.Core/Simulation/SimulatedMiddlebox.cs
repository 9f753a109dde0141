using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using SmtpLens.IO;
using SmtpLens.Protocol;
using SmtpLens.Transcripts;

namespace SmtpLens.Simulation;

/// <summary>An ESMTP-inspecting middlebox, simulated in process between SmtpLens and the real upstream.</summary>
/// <remarks>SmtpLens's own relay stays byte-faithful and never answers for the upstream: the simulated device
/// sits on the upstream side of it, as the firewall in the seeds sat between sender and receiver, so the
/// transcript shows what a sender behind such a device sees. Every alteration is recorded as a simulation event
/// saying what was changed from what, so a demo transcript cannot pass for an observation.</remarks>
internal sealed class SimulatedMiddlebox : IDisposable
{
    private readonly EsmtpFilter _filter;
    private readonly Socket _upstreamSocket;
    private readonly Stream _upstream;
    private readonly ITranscriptRecorder _transcript;
    private readonly int _maxLineLength;
    private readonly PipeReader _fromRelay;
    private readonly PipeWriter _toRelay;
    private readonly SemaphoreSlim _toClient = new(1, 1);
    private readonly Queue<Expected> _expected = new();
    private volatile bool _opaque;

    public SimulatedMiddlebox(SimulationRules rules, Socket upstreamSocket, Stream upstream, ITranscriptRecorder transcript, int maxLineLength)
    {
        _filter = new EsmtpFilter(rules);
        _upstreamSocket = upstreamSocket;
        _upstream = upstream;
        _transcript = transcript;
        _maxLineLength = maxLineLength;
        (RelaySide, _fromRelay, _toRelay) = DuplexPipeStream.CreatePair();
    }

    /// <summary>The "upstream" SmtpLens's relay talks to.</summary>
    public DuplexPipeStream RelaySide { get; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var upstreamReader = PipeReader.Create(_upstream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            await Task.WhenAll(CommandsAsync(cancellationToken), RepliesAsync(upstreamReader, cancellationToken));
        }
        finally
        {
            await upstreamReader.CompleteAsync();
        }
    }

    private void Simulated(string change) =>
        _transcript.Record(Direction.Proxy, EventKinds.Simulation, "SIMULATED middlebox: " + change, new Dictionary<string, object?> { ["simulated"] = true, ["change"] = change });

    private async Task CommandsAsync(CancellationToken ct)
    {
        try
        {
            while (true)
            {
                if (_opaque)
                {
                    await CopyAsync(_fromRelay, _upstream, long.MaxValue, ct);
                    return;
                }

                var line = await SmtpLineReader.ReadLineAsync(_fromRelay, _maxLineLength, ct);
                if (line is null)
                {
                    return;
                }

                var command = SmtpCommand.Parse(line);
                var verdict = _filter.Judge(command);
                if (!verdict.Forward)
                {
                    Simulated($"{verdict.Why}: client sent \"{AsciiText.Escape(LineFramer.TrimTerminator(line))}\", middlebox answered \"{verdict.LocalReply}\"");
                    await AnswerLocallyAsync(verdict.LocalReply!, ct);
                    continue;
                }

                var expected = new Expected(command.Verb, null);
                await _toClient.WaitAsync(ct);
                try
                {
                    _expected.Enqueue(expected);
                }
                finally
                {
                    _toClient.Release();
                }

                await _upstream.WriteAsync(line, ct);
                if (command.Verb is SmtpVerb.Data or SmtpVerb.StartTls)
                {
                    // Content or TLS only follows a positive reply; the client waits for it, so can we.
                    // After a 220 to STARTTLS the reply loop has already switched both directions to opaque.
                    var code = await expected.Reply.Task.WaitAsync(ct);
                    if (command.Verb is SmtpVerb.Data && code == 354)
                    {
                        await CopyContentAsync(ct);
                    }
                }
                else if (command.Verb is SmtpVerb.Bdat && BdatArguments.TryParse(command.Arguments, out var bdat))
                {
                    await CopyAsync(_fromRelay, _upstream, bdat.ChunkSize, ct);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The session's own relay reports how the connection ended.
        }
        finally
        {
            await _fromRelay.CompleteAsync();
            try
            {
                _upstreamSocket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }
        }
    }

    /// <summary>A refused command's reply goes out in order: after the replies to commands already forwarded.</summary>
    private async Task AnswerLocallyAsync(string reply, CancellationToken ct)
    {
        await _toClient.WaitAsync(ct);
        try
        {
            if (_expected.Count == 0)
            {
                await _toRelay.WriteAsync(Encoding.ASCII.GetBytes(reply + "\r\n"), ct);
            }
            else
            {
                _expected.Enqueue(new Expected(SmtpVerb.Unknown, reply));
            }
        }
        finally
        {
            _toClient.Release();
        }
    }

    private async Task RepliesAsync(PipeReader upstream, CancellationToken ct)
    {
        var banner = true;
        var lines = new List<byte[]>();
        try
        {
            while (true)
            {
                if (_opaque)
                {
                    await CopyAsync(upstream, _toRelay.AsStream(leaveOpen: true), long.MaxValue, ct);
                    return;
                }

                var line = await SmtpLineReader.ReadLineAsync(upstream, _maxLineLength, ct);
                if (line is null)
                {
                    return;
                }

                lines.Add(line);
                if (!ReplyLine.TryParse(LineFramer.TrimTerminator(line), out var parsed))
                {
                    // Not a reply line: a real inspection engine would drop the connection; pass it on and let
                    // SmtpLens's own parser report it.
                    await SendAsync(lines, null, answersCommand: false, ct);
                    lines.Clear();
                    continue;
                }

                if (!parsed.IsLast)
                {
                    continue;
                }

                await SendAsync(banner ? RewriteBanner(lines) : lines, parsed.Code, answersCommand: !banner, ct);
                banner = false;
                lines.Clear();
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The session's own relay reports how the connection ended.
        }
        finally
        {
            await _toRelay.CompleteAsync();
        }
    }

    private List<byte[]> RewriteBanner(List<byte[]> lines)
    {
        var result = new List<byte[]>(lines.Count);
        foreach (var line in lines)
        {
            var rewrite = _filter.Banner(line);
            if (rewrite.Change is not null)
            {
                Simulated(rewrite.Change);
            }

            result.Add(rewrite.Line!);
        }

        return result;
    }

    private List<byte[]> RewriteEhlo(List<byte[]> lines)
    {
        var result = new List<byte[]>(lines.Count);
        for (var i = 0; i < lines.Count; i++)
        {
            var rewrite = _filter.EhloLine(lines[i], isFirst: i == 0, isLast: i == lines.Count - 1);
            if (rewrite.Change is not null)
            {
                Simulated(rewrite.Change);
            }

            if (rewrite.Line is not null)
            {
                result.Add(rewrite.Line);
            }
        }

        result[^1] = EsmtpFilter.AsLastLine(result[^1]);
        return result;
    }

    /// <summary>Writes one reply, settles the command it answers, then any local replies queued behind it.</summary>
    private async Task SendAsync(List<byte[]> reply, int? finalCode, bool answersCommand, CancellationToken ct)
    {
        await _toClient.WaitAsync(ct);
        try
        {
            Expected? answered = null;
            if (answersCommand && finalCode is not null && _expected.TryDequeue(out var head))
            {
                answered = head;
                if (head.Verb is SmtpVerb.Ehlo && finalCode / 100 == 2)
                {
                    reply = RewriteEhlo(reply);
                }
            }

            foreach (var line in reply)
            {
                await _toRelay.WriteAsync(line, ct);
            }

            if (answered is { Verb: SmtpVerb.StartTls } && finalCode == 220)
            {
                _opaque = true;
            }

            answered?.Reply.TrySetResult(finalCode ?? 0);
            while (_expected.TryPeek(out var next) && next.LocalReply is { } local)
            {
                _expected.Dequeue();
                await _toRelay.WriteAsync(Encoding.ASCII.GetBytes(local + "\r\n"), ct);
            }
        }
        finally
        {
            _toClient.Release();
        }
    }

    /// <summary>DATA content up to and including CRLF.CRLF, forwarded as it arrives.</summary>
    private async Task CopyContentAsync(CancellationToken ct)
    {
        var scanner = new DataContentScanner();
        while (!scanner.Complete)
        {
            var read = await _fromRelay.ReadAsync(ct);
            var length = ContentLength(scanner, read.Buffer);
            var chunk = read.Buffer.Slice(0, length);
            foreach (var segment in chunk)
            {
                await _upstream.WriteAsync(segment, ct);
            }

            _fromRelay.AdvanceTo(chunk.End);
            if (!scanner.Complete && read.IsCompleted)
            {
                throw new EndOfStreamException("client side closed during message content");
            }
        }
    }

    private static long ContentLength(DataContentScanner scanner, ReadOnlySequence<byte> buffer)
    {
        long length = 0;
        foreach (var segment in buffer)
        {
            length += scanner.Scan(segment.Span, DiscardingSink.Instance);
            if (scanner.Complete)
            {
                break;
            }
        }

        return length;
    }

    private sealed class DiscardingSink : IMessageContentSink
    {
        public static readonly DiscardingSink Instance = new();

        public void Write(ReadOnlySpan<byte> content)
        {
        }
    }

    private static async Task CopyAsync(PipeReader from, Stream to, long count, CancellationToken ct)
    {
        while (count > 0)
        {
            var read = await from.ReadAsync(ct);
            var chunk = read.Buffer.Length > count ? read.Buffer.Slice(0, count) : read.Buffer;
            foreach (var segment in chunk)
            {
                await to.WriteAsync(segment, ct);
            }

            count -= chunk.Length;
            from.AdvanceTo(chunk.End);
            if (read.IsCompleted && count > 0)
            {
                return;
            }
        }
    }

    public void Dispose() => _toClient.Dispose();

    /// <summary>A forwarded command awaiting the upstream's reply, or a local reply queued behind them.</summary>
    private sealed record Expected(SmtpVerb Verb, string? LocalReply)
    {
        public TaskCompletionSource<int> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
