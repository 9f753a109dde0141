using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using SmtpLens.IO;
using SmtpLens.Protocol;
using SmtpLens.StateMachine;
using SmtpLens.Transcripts;

namespace SmtpLens.Probe;

/// <summary>The probe could not go on: no SMTP, a timeout, a vanished server. The message is the one line shown.</summary>
internal sealed class ProbeAbortedException(string message, SessionEndReason reason, Exception? inner = null) : Exception(message, inner)
{
    public SessionEndReason Reason { get; } = reason;
}

/// <summary>The probe's side of one SMTP connection: it sends commands and reads replies, and feeds every byte
/// both ways through the proxy's <see cref="SmtpDialogue"/>, so the transcript and the findings are exactly
/// what the proxy would record for the same dialogue.</summary>
internal sealed class ProbeConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private readonly ITranscriptRecorder _transcript;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;
    private readonly int _maxLine;
    private PipeReader _reader;
    private Stream _writer;

    public ProbeConnection(Socket socket, SmtpDialogue dialogue, ITranscriptRecorder transcript, TimeProvider time, TimeSpan timeout, int maxLine)
    {
        _socket = socket;
        _network = new NetworkStream(socket, ownsSocket: false);
        _reader = PipeReader.Create(_network, new StreamPipeReaderOptions(leaveOpen: true));
        _writer = _network;
        Dialogue = dialogue;
        _transcript = transcript;
        _time = time;
        _timeout = timeout;
        _maxLine = maxLine;
    }

    public SmtpDialogue Dialogue { get; }

    public ITranscriptRecorder Transcript => _transcript;

    /// <summary>The plaintext transport, for the TLS handshake to run over.</summary>
    public Stream Network => _network;

    /// <summary>Bytes the reader already holds; they must be taken before TLS starts on the raw stream.</summary>
    public PipeReader Reader => _reader;

    public async Task SendAsync(string command, CancellationToken cancellationToken)
    {
        var bytes = Encoding.ASCII.GetBytes(command + "\r\n");
        var sequence = new ReadOnlySequence<byte>(bytes);
        Dialogue.ParseClient(ref sequence, isCompleted: false);
        using var step = Step(cancellationToken);
        try
        {
            await _writer.WriteAsync(bytes, step.Token);
            await _writer.FlushAsync(step.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Abort($"timed out after {_timeout.TotalSeconds:0} s sending {Verb(command)}", SessionEndReason.IdleTimeout);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw Abort($"the server closed the connection when sent {Verb(command)} ({Inner(e).Message})", SessionEndReason.UpstreamError, e);
        }
    }

    /// <summary>One whole reply, or null when the server closed cleanly between replies.</summary>
    public async Task<SmtpReply?> ReadReplyAsync(string waitingFor, CancellationToken cancellationToken)
    {
        var assembler = new ReplyAssembler();
        using var step = Step(cancellationToken);
        while (true)
        {
            byte[]? line;
            try
            {
                line = await SmtpLineReader.ReadLineAsync(_reader, _maxLine, step.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw Abort($"no {waitingFor} within {_timeout.TotalSeconds:0} s (the server is silent)", SessionEndReason.IdleTimeout);
            }
            catch (LineTooLongException)
            {
                throw Abort($"the server sent a line longer than {_maxLine} bytes while the probe waited for {waitingFor}: not SMTP", SessionEndReason.ReplyLineTooLong);
            }
            catch (ClosedMidLineException e)
            {
                var rest = ReadOnlySequence<byte>.Empty;
                Dialogue.ParseServer(ref rest, isCompleted: true);
                throw Abort($"the server closed the connection in the middle of its {waitingFor} ({e.PendingBytes} bytes without a line end)", SessionEndReason.UpstreamClosedMidLine);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw Abort($"the connection failed while the probe waited for {waitingFor}: {Inner(e).Message}", SessionEndReason.UpstreamError, e);
            }

            if (line is null)
            {
                if (assembler.InProgress)
                {
                    throw Abort($"the server closed the connection in the middle of its multi-line {waitingFor}", SessionEndReason.UpstreamClosedMidLine);
                }

                return null;
            }

            var sequence = new ReadOnlySequence<byte>(line);
            Dialogue.ParseServer(ref sequence, isCompleted: false);
            var body = LineFramer.TrimTerminator(line);
            if (!ReplyLine.TryParse(body, out var parsed))
            {
                var shown = body.Length > 80 ? body[..80] : body;
                throw Abort($"the server does not speak SMTP: expected a {waitingFor}, got \"{AsciiText.Escape(shown)}\"", SessionEndReason.UpstreamError);
            }

            if (assembler.Add(parsed, AsciiText.Escape(body)) is { } reply)
            {
                return reply;
            }
        }
    }

    /// <summary>Plaintext the server sent after its 220 to STARTTLS, before TLS: never read as TLS or SMTP.</summary>
    public async Task<long> DiscardPendingAsync()
    {
        if (!_reader.TryRead(out var pending))
        {
            return 0;
        }

        var length = pending.Buffer.Length;
        if (length > 0)
        {
            var shown = pending.Buffer.Length > 512 ? pending.Buffer.Slice(0, 512) : pending.Buffer;
            _transcript.Record(Direction.Proxy, EventKinds.Anomaly, $"STARTTLS injection: the server sent {length} bytes of plaintext after its 220 to STARTTLS, before TLS began; discarded: {AsciiText.Escape(shown)}", new Dictionary<string, object?> { ["anomaly"] = "starttls-injection", ["leg"] = "upstream", ["bytes"] = length });
        }

        _reader.AdvanceTo(pending.Buffer.End);
        await Task.CompletedTask;
        return length;
    }

    /// <summary>From now on commands and replies travel inside TLS.</summary>
    public void SwitchTo(Stream tls)
    {
        _reader = PipeReader.Create(tls, new StreamPipeReaderOptions(leaveOpen: true));
        _writer = tls;
    }

    private StepDeadline Step(CancellationToken cancellationToken) => new(_timeout, _time, cancellationToken);

    private ProbeAbortedException Abort(string message, SessionEndReason reason, Exception? inner = null)
    {
        _transcript.Record(Direction.Proxy, EventKinds.Error, message);
        return new ProbeAbortedException(message, reason, inner);
    }

    private static string Verb(string command) => command.Split(' ')[0];

    private static Exception Inner(Exception e) => e.InnerException is SocketException s ? s : e;

    public async ValueTask DisposeAsync()
    {
        await _reader.CompleteAsync();
        await _network.DisposeAsync();
        _socket.Dispose();
    }
}
