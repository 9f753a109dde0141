using System.Buffers;
using SmtpLens.StateMachine;

namespace SmtpLens.Tests.Support;

/// <summary>Plays the relay's pump for one direction: presents reads to the dialogue the way a PipeReader
/// does and "forwards" exactly the bytes the dialogue consumed.</summary>
/// <remarks>
/// Unconsumed bytes stay at the front of the buffer and the next read is appended behind them. In
/// segmented mode the buffer keeps every read (and every segment of a read) as its own segment; otherwise
/// it is one contiguous array. After <see cref="DialogueStep.AwaitReply"/> nothing more is parsed until the
/// dialogue says the reply came (<see cref="SmtpDialogue.WaitForReplyAsync"/>); reads arriving meanwhile queue.
/// </remarks>
internal sealed class PeerFeeder(ParseFunction parse, Func<Task<DialogueStep>>? waitForReply, bool segmented, Action? forwarded = null)
{
    private readonly Queue<IReadOnlyList<ReadOnlyMemory<byte>>?> _queued = new();
    private readonly ArrayBufferWriter<byte> _received = new();
    private readonly ArrayBufferWriter<byte> _forwarded = new();
    private readonly List<DialogueStep> _steps = [];
    private List<ReadOnlyMemory<byte>> _unconsumed = [];
    private Task<DialogueStep>? _wait;
    private bool _closed;

    /// <summary>The client's pump: it parses commands and content and waits for DATA and STARTTLS replies.</summary>
    public static PeerFeeder Client(SmtpDialogue dialogue, bool segmented) =>
        new(dialogue.ParseClient, () => dialogue.WaitForReplyAsync(CancellationToken.None), segmented);

    /// <summary>The upstream's pump: like the relay, it wakes the waiting client once the bytes are forwarded.</summary>
    public static PeerFeeder Upstream(SmtpDialogue dialogue, bool segmented) =>
        new(dialogue.ParseServer, null, segmented, dialogue.CompleteReleasedWait);

    /// <summary>Every byte the peer sent, whether or not anyone read it.</summary>
    public byte[] Received => _received.WrittenSpan.ToArray();

    /// <summary>The bytes the dialogue consumed, which the relay would have forwarded, in order.</summary>
    public byte[] Forwarded => _forwarded.WrittenSpan.ToArray();

    /// <summary>The sum of the consumed counts of every parse call.</summary>
    public long ConsumedSum { get; private set; }

    public int ParseCalls { get; private set; }

    /// <summary>The step of every parse call, in order.</summary>
    public IReadOnlyList<DialogueStep> Steps => _steps;

    /// <summary>Set once the dialogue said <see cref="DialogueStep.End"/> or <see cref="DialogueStep.TlsUpgrade"/>.</summary>
    public DialogueResult? Final { get; private set; }

    /// <summary>Waiting for the upstream's reply after DATA or STARTTLS.</summary>
    public bool Blocked { get; private set; }

    public byte[] Unconsumed => [.. _unconsumed.SelectMany(m => m.ToArray())];

    /// <summary>One read: the chunks arrive together (one segment each in segmented mode).</summary>
    public void Deliver(IReadOnlyList<ReadOnlyMemory<byte>> read)
    {
        foreach (var chunk in read)
        {
            _received.Write(chunk.Span);
        }

        if (Final is not null || _closed)
        {
            return;
        }

        if (Blocked)
        {
            _queued.Enqueue(read);
            return;
        }

        Append(read);
        Parse(false);
    }

    /// <summary>The peer closed: the next read reports completion with whatever is left.</summary>
    public void Close()
    {
        if (Final is not null || _closed)
        {
            return;
        }

        if (Blocked)
        {
            _queued.Enqueue(null);
            return;
        }

        _closed = true;
        Parse(true);
    }

    /// <summary>Called when the other direction has had its say: resumes a pump that awaited a reply.</summary>
    public void ResumeIfReplied()
    {
        if (!Blocked || _wait is not { IsCompleted: true } wait)
        {
            return;
        }

        Blocked = false;
        _wait = null;
        var next = wait.Result;
        if (next != DialogueStep.Continue)
        {
            Final = new DialogueResult(next);
            return;
        }

        // A PipeReader hands back what was left unconsumed at once; new bytes come after.
        if (_unconsumed.Count > 0)
        {
            Parse(false);
        }

        while (!Blocked && Final is null && _queued.TryDequeue(out var read))
        {
            if (read is null)
            {
                _closed = true;
                Parse(true);
            }
            else
            {
                Append(read);
                Parse(false);
            }
        }
    }

    private void Append(IReadOnlyList<ReadOnlyMemory<byte>> read)
    {
        if (segmented)
        {
            _unconsumed.AddRange(read.Where(m => !m.IsEmpty));
            return;
        }

        byte[] joined = [.. _unconsumed.SelectMany(m => m.ToArray()), .. read.SelectMany(m => m.ToArray())];
        _unconsumed = joined.Length == 0 ? [] : [joined];
    }

    private void Parse(bool isCompleted)
    {
        var original = BufferSegment.Sequence(_unconsumed);
        var buffer = original;
        var result = parse(ref buffer, isCompleted);
        ParseCalls++;
        _steps.Add(result.Step);

        // Slice throws unless the remainder is a suffix of what was presented: the dialogue may only
        // advance the start, never invent or reorder bytes.
        var consumed = original.Slice(0, buffer.Start);
        if (consumed.Length + buffer.Length != original.Length)
        {
            throw new InvalidOperationException($"consumed {consumed.Length} + left {buffer.Length} != presented {original.Length}");
        }

        foreach (var segment in consumed)
        {
            _forwarded.Write(segment.Span);
        }

        ConsumedSum += consumed.Length;
        forwarded?.Invoke();
        var left = new List<ReadOnlyMemory<byte>>();
        foreach (var segment in buffer)
        {
            if (!segment.IsEmpty)
            {
                left.Add(segment);
            }
        }

        _unconsumed = left;
        switch (result.Step)
        {
            case DialogueStep.AwaitReply:
                Blocked = true;
                _wait = waitForReply?.Invoke() ?? throw new InvalidOperationException("only the client awaits replies");
                break;
            case DialogueStep.TlsUpgrade or DialogueStep.End:
                Final = result;
                break;
        }
    }
}
