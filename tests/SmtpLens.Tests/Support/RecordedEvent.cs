using System.Text.Json;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Support;

/// <summary>One event the dialogue reported, as the recording transcript saw it (no timestamp, no number).</summary>
internal sealed record RecordedEvent(Direction Direction, string Kind, string Text, IReadOnlyDictionary<string, object?>? Data)
{
    /// <summary>The data serialized the way the JSON Lines writer does, so secrets hidden in nested values show.</summary>
    public string DataJson => Data is null ? string.Empty : JsonSerializer.Serialize(Data);

    /// <summary>Everything about the event in one comparable string.</summary>
    public string Signature => $"{Direction}|{Kind}|{Text}|{DataJson}";

    public object? Get(string key) => Data?.GetValueOrDefault(key);

    public override string ToString() => Signature;
}
