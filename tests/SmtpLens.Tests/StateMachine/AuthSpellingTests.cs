using System.Text;
using SmtpLens.StateMachine;
using SmtpLens.Tests.Support;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.StateMachine;

/// <summary>Issue 12 defect 3: no AUTH spelling leaves a secret in any event, and a line is a SASL response
/// exactly when the upstream's 334 made it one, however the client pipelines and however the bytes are split.</summary>
public sealed class AuthSpellingTests
{
    public static TheoryData<string, FeedMode> SpellingsAndModes()
    {
        var data = new TheoryData<string, FeedMode>();
        foreach (var spelling in AuthSpellings.All)
        {
            foreach (var mode in DialogueReplayer.AllModes)
            {
                data.Add(spelling.Name, mode);
            }
        }

        return data;
    }

    public static TheoryData<string> Spellings() => [.. AuthSpellings.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(SpellingsAndModes))]
    public void Redact_EverySpellingAnySplit_NoSecretInAnyEvent(string name, FeedMode mode)
    {
        var (transcript, _, client) = Play(AuthSpellings.Named(name), mode);

        foreach (var piece in AuthSpellings.SecretPieces())
        {
            Assert.All(transcript.Events, e =>
            {
                Assert.DoesNotContain(piece, e.Text, StringComparison.Ordinal);
                Assert.DoesNotContain(piece, e.DataJson, StringComparison.Ordinal);
            });
        }

        Assert.Equal(client.Received, client.Forwarded);
    }

    [Theory]
    [MemberData(nameof(SpellingsAndModes))]
    public void EverySpellingAnySplit_LinesAfterA334AreResponses_AndEveryOtherLineIsACommand(string name, FeedMode mode)
    {
        var spelling = AuthSpellings.Named(name);
        var (transcript, dialogue, _) = Play(spelling, mode);

        Assert.Equal(["EHLO", .. spelling.CommandVerbs], transcript.CommandVerbs);
        Assert.Equal(spelling.SaslResponses, transcript.OfKind(EventKinds.AuthResponse).Count());
        Assert.DoesNotContain("unsolicited-reply", transcript.AnomalyCodes);
        Assert.True(dialogue.QuitAcknowledged, "the 221 must be matched to the QUIT");
    }

    [Fact]
    public void PipelinedAuthResponseAndQuit_BeforeThe334_QuitIsLoggedAsQuit()
    {
        var (transcript, dialogue, client) = Play(AuthSpellings.Named("pipelined-continuation-then-quit"), FeedMode.Whole);

        Assert.Equal(["EHLO", "AUTH", "QUIT"], transcript.CommandVerbs);
        Assert.Equal("<redacted SASL response, 40 bytes>", Assert.Single(transcript.OfKind(EventKinds.AuthResponse)).Text);
        Assert.Equal([220, 250, 334, 235, 221], transcript.ReplyCodes);
        Assert.True(dialogue.QuitAcknowledged);
        // The client's pump waited for the 334 and for the 235: three parses, each stopping at one line.
        Assert.Equal([DialogueStep.Continue, DialogueStep.AwaitReply, DialogueStep.AwaitReply, DialogueStep.Continue], client.Steps);
    }

    [Theory]
    [InlineData("tab-separators", "AUTH\\x09PLAIN\\x09<redacted initial response, 40 bytes>")]
    [InlineData("double-spaces", "AUTH  PLAIN  <redacted initial response, 40 bytes>")]
    [InlineData("blanks-everywhere", " AUTH \\x09 PLAIN\\x09 \\x09<redacted initial response, 41 bytes>")]
    [InlineData("lower-case", "auth plain <redacted initial response, 40 bytes>")]
    [InlineData("mixed-case-login", "Auth Login")]
    [InlineData("empty-initial-response", "AUTH PLAIN <redacted initial response, 1 bytes>")]
    [InlineData("token-as-mechanism", "AUTH <redacted, 40 bytes>")]
    public void Redact_AuthCommand_KeepsTheSeparatorsAndMechanismAsSent(string name, string shown)
    {
        var (transcript, _, _) = Play(AuthSpellings.Named(name), FeedMode.Whole);

        Assert.Equal(shown, transcript.OfKind(EventKinds.Command).First(e => (string)e.Get("verb")! == "AUTH").Text);
    }

    [Fact]
    public void TabSeparatedAuth_IsAnAuthCommandWithASyntaxAnomaly()
    {
        var (transcript, _, _) = Play(AuthSpellings.Named("tab-continuation"), FeedMode.Whole);

        Assert.Contains("command-syntax", transcript.AnomalyCodes);
        Assert.Equal("<redacted SASL response, 40 bytes>", Assert.Single(transcript.OfKind(EventKinds.AuthResponse)).Text);
    }

    [Fact]
    public void Cancel_StarIsShownAsACancel_AndTheRetryIsACommand()
    {
        var (transcript, _, _) = Play(AuthSpellings.Named("cancel"), FeedMode.Whole);

        Assert.Equal(["<redacted SASL response, 16 bytes>", "* (the client cancelled the exchange)"], transcript.OfKind(EventKinds.AuthResponse).Select(e => e.Text));
        Assert.Equal(["EHLO", "AUTH", "AUTH", "QUIT"], transcript.CommandVerbs);
    }

    [Theory]
    [MemberData(nameof(Spellings))]
    public void NoRedact_EverySpelling_LinesAppearAsSent(string name)
    {
        var spelling = AuthSpellings.Named(name);
        var (transcript, _, _) = Play(spelling, FeedMode.Whole, new DialogueOptions { Redact = false });

        var shown = transcript.OfKind(EventKinds.Command).Concat(transcript.OfKind(EventKinds.AuthResponse)).Select(e => e.Text).ToList();
        foreach (var (line, _) in spelling.Steps)
        {
            Assert.Contains(SmtpLens.Protocol.AsciiText.Escape(Encoding.ASCII.GetBytes(line.TrimEnd('\r', '\n'))), shown);
        }
    }

    [Theory]
    [InlineData("AUTH\tPLAIN\tAGFsaWNlAHMzY3IzdA==")]
    [InlineData("auth plain AGFsaWNlAHMzY3IzdA==")]
    [InlineData("\tAUTH")]
    [InlineData("AU")]
    public void ClientClosesMidAuthLine_ThePartialLineIsRedacted(string partial)
    {
        var transcript = new RecordingTranscript();
        var dialogue = new SmtpDialogue(transcript, new DialogueOptions());
        var client = PeerFeeder.Client(dialogue, false);
        PeerFeeder.Upstream(dialogue, false).Deliver([Encoding.ASCII.GetBytes("220 up.test ESMTP\r\n")]);

        client.Deliver([Encoding.ASCII.GetBytes(partial)]);
        client.Close();

        var error = Assert.Single(transcript.OfKind(EventKinds.Error));
        Assert.Contains("<redacted partial AUTH data", error.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("AGFsaWNl", error.Text, StringComparison.Ordinal);
    }

    /// <summary>Greeting and EHLO, then the spelling's lines; each reply is parsed only once the line it answers
    /// could have reached the upstream, as on a real connection.</summary>
    private static (RecordingTranscript Transcript, SmtpDialogue Dialogue, PeerFeeder Client) Play(AuthSpelling spelling, FeedMode mode, DialogueOptions? options = null)
    {
        var transcript = new RecordingTranscript();
        var dialogue = new SmtpDialogue(transcript, options ?? new DialogueOptions());
        var segmented = mode is FeedMode.Segmented or FeedMode.Chunked;
        var client = PeerFeeder.Client(dialogue, segmented);
        var server = PeerFeeder.Upstream(dialogue, segmented);
        var random = new Random(7);
        void Send(PeerFeeder peer, string text)
        {
            foreach (var read in DialogueReplayer.Reads(Encoding.ASCII.GetBytes(text), mode, random))
            {
                peer.Deliver(read);
            }
        }

        void Reply(string text)
        {
            Send(server, text + "\r\n");
            client.ResumeIfReplied();
        }

        Reply("220 up.test ESMTP");
        Send(client, "EHLO client.test\r\n");
        Reply("250-up.test\r\n250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER");
        if (spelling.Pipelined)
        {
            Send(client, string.Concat(spelling.Steps.Select(s => s.Line)));
        }

        foreach (var (line, reply) in spelling.Steps)
        {
            if (!spelling.Pipelined)
            {
                Send(client, line);
            }

            Reply(reply);
        }

        return (transcript, dialogue, client);
    }
}
