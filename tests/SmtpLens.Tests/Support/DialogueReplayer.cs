using SmtpLens.StateMachine;

namespace SmtpLens.Tests.Support;

/// <summary>Replays a <see cref="DialogueScript"/> through <see cref="SmtpDialogue"/>, cutting the bytes
/// into reads according to a <see cref="FeedMode"/>.</summary>
internal static class DialogueReplayer
{
    public static readonly FeedMode[] AllModes = Enum.GetValues<FeedMode>();

    /// <summary>Segment sizes for <see cref="FeedMode.Segmented"/>: small and coprime-ish, so boundaries land everywhere.</summary>
    private static readonly int[] SegmentSizes = [1, 2, 3, 5, 8, 13];

    public static ReplayResult Run(DialogueScript script, FeedMode mode, DialogueOptions? options = null, int seed = 1)
    {
        var transcript = new RecordingTranscript();
        var dialogue = new SmtpDialogue(transcript, options ?? new DialogueOptions());
        var (client, server) = Feed(dialogue, script, mode, new Random(seed));
        return new ReplayResult(mode, dialogue, transcript, client, server);
    }

    /// <summary>Plays <paramref name="script"/> into <paramref name="dialogue"/> through one pump per side.</summary>
    /// <param name="beforeTurn">Runs before each turn (a test clock can tick there).</param>
    public static (PeerFeeder Client, PeerFeeder Server) Feed(SmtpDialogue dialogue, DialogueScript script, FeedMode mode = FeedMode.Whole, Random? random = null, Action? beforeTurn = null)
    {
        var segmented = mode is FeedMode.Segmented or FeedMode.Chunked;
        var client = PeerFeeder.Client(dialogue, segmented);
        var server = PeerFeeder.Upstream(dialogue, segmented);
        random ??= new Random(1);
        foreach (var turn in script.Turns)
        {
            beforeTurn?.Invoke();
            var feeder = turn.Peer == Peer.Client ? client : server;
            if (turn.IsClose)
            {
                feeder.Close();
            }
            else
            {
                foreach (var read in Reads(turn.Bytes, mode, random))
                {
                    feeder.Deliver(read);
                }
            }

            // The client's pump resumes once the upstream's turn has been parsed. Doing it per turn rather
            // than per read keeps the event order the same in every mode.
            if (turn.Peer == Peer.Server)
            {
                client.ResumeIfReplied();
            }
        }

        return (client, server);
    }

    public static ReplayResult Run(string embeddedName, FeedMode mode, DialogueOptions? options = null) =>
        Run(DialogueScript.Load(embeddedName), mode, options);

    /// <summary>The reads one turn arrives in; each read is a list of segments.</summary>
    public static IEnumerable<IReadOnlyList<ReadOnlyMemory<byte>>> Reads(byte[] bytes, FeedMode mode, Random random)
    {
        switch (mode)
        {
            case FeedMode.Whole:
                yield return [bytes];
                break;
            case FeedMode.Line:
                var start = 0;
                for (var i = 0; i < bytes.Length; i++)
                {
                    if (bytes[i] == (byte)'\n')
                    {
                        yield return [bytes.AsMemory(start, i + 1 - start)];
                        start = i + 1;
                    }
                }

                if (start < bytes.Length)
                {
                    yield return [bytes.AsMemory(start)];
                }

                break;
            case FeedMode.Byte:
                for (var i = 0; i < bytes.Length; i++)
                {
                    yield return [bytes.AsMemory(i, 1)];
                }

                break;
            case FeedMode.Segmented:
                yield return [.. BufferSegment.Cut(bytes, SegmentSizes)];
                break;
            case FeedMode.Chunked:
                var offset = 0;
                while (offset < bytes.Length)
                {
                    var size = Math.Min(random.Next(1, 18), bytes.Length - offset);
                    yield return [bytes.AsMemory(offset, size)];
                    offset += size;
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode));
        }
    }
}
