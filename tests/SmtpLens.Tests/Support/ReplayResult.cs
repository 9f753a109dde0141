using SmtpLens.StateMachine;

namespace SmtpLens.Tests.Support;

/// <summary>What one replay of a dialogue left behind.</summary>
internal sealed record ReplayResult(FeedMode Mode, SmtpDialogue Dialogue, RecordingTranscript Transcript, PeerFeeder Client, PeerFeeder Server)
{
    public IReadOnlyList<RecordedEvent> Events => Transcript.Events;
}
