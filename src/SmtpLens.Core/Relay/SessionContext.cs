using Microsoft.Extensions.Logging;
using SmtpLens.Configuration;
using SmtpLens.Transcripts;

namespace SmtpLens.Relay;

/// <summary>What every session on one listener shares.</summary>
internal sealed record SessionContext(
    ListenerSettings Listener,
    RelayOptions Relay,
    TranscriptOptions Transcripts,
    TimeProvider Time,
    ILogger Log);
