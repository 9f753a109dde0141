using System.Text;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.StateMachine;

/// <summary>AUTH secrets never reach any event, however the bytes are split (MailKit's secret-detector requirement).</summary>
public sealed class AuthRedactionTests
{
    /// <summary>What each AUTH dialogue must never show: the SASL tokens as sent, then what they decode to.</summary>
    private static readonly Dictionary<string, (string[] Wire, string[] Decoded)> Secrets = new()
    {
        ["auth-plain-initial"] = (["AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdC1QNHNzdzByZCE="], ["s3cr3t-P4ssw0rd!"]),
        ["auth-plain-continuation"] = (["AGFsaWNlQGV4YW1wbGUuY29tAHMzY3IzdC1QNHNzdzByZCE="], ["s3cr3t-P4ssw0rd!"]),
        ["auth-login"] = (["YWxpY2VAZXhhbXBsZS5jb20=", "czNjcjN0LVA0c3N3MHJkIQ=="], ["s3cr3t-P4ssw0rd!"]),
        ["auth-xoauth2"] = (["dXNlcj1hbGljZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LmEwQWZINlNNQngtU0VDUkVULVRPS0VOAQE="], ["ya29.a0AfH6SMBx-SECRET-TOKEN"]),
        ["auth-cram-md5"] = (["dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"], ["b913a602c7eda7a495b4e6e7334d3890"]),
    };

    public static TheoryData<string, FeedMode> AuthDialoguesAndModes()
    {
        var data = new TheoryData<string, FeedMode>();
        foreach (var name in Secrets.Keys)
        {
            foreach (var mode in DialogueReplayer.AllModes)
            {
                data.Add(name, mode);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AuthDialoguesAndModes))]
    public void Redact_AnyMode_NoSecretOrPieceOfOneInAnyEvent(string name, FeedMode mode)
    {
        var result = DialogueReplayer.Run(name, mode);

        Assert.NotEmpty(result.Events);
        foreach (var secret in Secrets[name].Wire.Concat(Secrets[name].Decoded))
        {
            // Any 10-character piece would give part of a token away, e.g. when it was split across reads.
            foreach (var piece in Pieces(secret, 10))
            {
                Assert.All(result.Events, e =>
                {
                    Assert.DoesNotContain(piece, e.Text, StringComparison.Ordinal);
                    Assert.DoesNotContain(piece, e.DataJson, StringComparison.Ordinal);
                });
            }
        }

        // Redaction must not cost byte-faithfulness: the secret still goes to the upstream.
        Assert.Equal(result.Client.Received, result.Client.Forwarded);
    }

    [Theory]
    [MemberData(nameof(AuthDialoguesAndModes))]
    public void NoRedact_AnyMode_TokensAppearAsSent(string name, FeedMode mode)
    {
        var result = DialogueReplayer.Run(name, mode, new DialogueOptions { Redact = false });

        foreach (var token in Secrets[name].Wire)
        {
            Assert.Contains(result.Events, e => e.Text.Contains(token, StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Redact_PlainInitialResponse_KeepsTheMechanismAndLength(FeedMode mode)
    {
        var result = DialogueReplayer.Run("auth-plain-initial", mode);

        var auth = result.Transcript.OfKind(EventKinds.Command).Single(e => (string)e.Get("verb")! == "AUTH");
        Assert.Equal("AUTH PLAIN <redacted initial response, 48 bytes>", auth.Text);
        Assert.Empty(result.Transcript.OfKind(EventKinds.AuthResponse));
        Assert.Equal(["EHLO", "AUTH", "QUIT"], result.Transcript.CommandVerbs);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Redact_PlainContinuation_RedactsTheResponseLine(FeedMode mode)
    {
        var result = DialogueReplayer.Run("auth-plain-continuation", mode);

        Assert.Equal("AUTH PLAIN", result.Transcript.OfKind(EventKinds.Command).Single(e => (string)e.Get("verb")! == "AUTH").Text);
        var response = Assert.Single(result.Transcript.OfKind(EventKinds.AuthResponse));
        Assert.Equal("<redacted SASL response, 48 bytes>", response.Text);
        Assert.Equal(Direction.Client, response.Direction);
        Assert.Equal([220, 250, 334, 235, 221], result.Transcript.ReplyCodes);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Redact_XOAuth2ErrorChallenge_EmptyAnswerIsAResponseAndTheRetryIsACommand(FeedMode mode)
    {
        var result = DialogueReplayer.Run("auth-xoauth2", mode);

        Assert.Equal(["EHLO", "AUTH", "AUTH", "QUIT"], result.Transcript.CommandVerbs);
        Assert.Equal(["<redacted SASL response, 0 bytes>"], result.Transcript.OfKind(EventKinds.AuthResponse).Select(e => e.Text));
        Assert.All(
            result.Transcript.OfKind(EventKinds.Command).Where(e => (string)e.Get("verb")! == "AUTH"),
            e => Assert.Equal("AUTH XOAUTH2 <redacted initial response, 88 bytes>", e.Text));
        // The server's challenge is not a secret and stays readable.
        Assert.Contains(result.Events, e => e.Kind == EventKinds.Reply && e.Text.StartsWith("334 eyJzdGF0dXMiOiI0MDEi", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Redact_CramMd5_ChallengeStaysAndResponseGoes(FeedMode mode)
    {
        var result = DialogueReplayer.Run("auth-cram-md5", mode);

        Assert.Equal("<redacted SASL response, 48 bytes>", Assert.Single(result.Transcript.OfKind(EventKinds.AuthResponse)).Text);
        Assert.Contains(result.Events, e => e.Text == "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
    }

    [Fact]
    public async Task Redact_TranscriptFiles_HoldNoSecret()
    {
        var files = await WriteTranscriptFilesAsync("auth-login", redact: true);

        Assert.Equal(3, files.Count);
        foreach (var (path, text) in files)
        {
            Assert.DoesNotContain("czNjcjN0LVA0c3N3MHJkIQ==", text, StringComparison.Ordinal);
            Assert.DoesNotContain("YWxpY2VAZXhhbXBsZS5jb20=", text, StringComparison.Ordinal);
            Assert.Contains("redacted SASL response", text, StringComparison.Ordinal);
            Assert.True(text.Length > 0, path);
        }

        Assert.Contains("# AUTH secrets are redacted", files.Single(f => f.Path.EndsWith(".log", StringComparison.Ordinal)).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoRedact_TranscriptFiles_HoldTheTokensAndTheLogSaysSo()
    {
        var files = await WriteTranscriptFilesAsync("auth-login", redact: false);

        Assert.All(files, f => Assert.Contains("czNjcjN0LVA0c3N3MHJkIQ==", f.Text, StringComparison.Ordinal));
        Assert.Contains("# WARNING: redaction disabled (--no-redact): this file contains AUTH secrets", files.Single(f => f.Path.EndsWith(".log", StringComparison.Ordinal)).Text, StringComparison.Ordinal);
    }

    public static TheoryData<FeedMode> Modes() => [.. DialogueReplayer.AllModes];

    private static async Task<List<(string Path, string Text)>> WriteTranscriptFilesAsync(string dialogue, bool redact)
    {
        var dir = Directory.CreateTempSubdirectory("smtplens-auth-");
        try
        {
            var info = new SessionInfo("20251117T101500000Z-000001-abcd", "test", null, null);
            await using (var transcript = new SessionTranscript(info, new TranscriptOptions { Directory = dir.FullName, Redact = redact, Instance = "unit" }, new FakeTimeProvider()))
            {
                var script = DialogueScript.Load(dialogue);
                var dialogueTracker = new SmtpDialogue(transcript, new DialogueOptions { Redact = redact });
                var client = PeerFeeder.Client(dialogueTracker, false);
                var server = PeerFeeder.Upstream(dialogueTracker, false);
                foreach (var turn in script.Turns.Where(t => !t.IsClose))
                {
                    (turn.Peer == Peer.Client ? client : server).Deliver([turn.Bytes]);
                    // The client's pump waits for the reply to AUTH and to each SASL response, as the relay's does.
                    client.ResumeIfReplied();
                }
            }

            return [.. dir.EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => (f.FullName, File.ReadAllText(f.FullName, Encoding.UTF8)))];
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static IEnumerable<string> Pieces(string secret, int length) =>
        secret.Length <= length ? [secret] : Enumerable.Range(0, secret.Length - length + 1).Select(i => secret.Substring(i, length));
}
