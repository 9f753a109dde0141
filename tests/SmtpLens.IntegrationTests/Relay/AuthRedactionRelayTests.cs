using System.Net;
using SmtpLens.Findings;
using SmtpLens.IntegrationTests.Probe;
using SmtpLens.Tests.Support;

namespace SmtpLens.IntegrationTests.Relay;

/// <summary>Issue 12 defect 3 through the real proxy: every AUTH spelling, real sockets, real transcript and
/// findings files; no file may hold any piece of a secret, as sent or decoded.</summary>
public sealed class AuthRedactionRelayTests
{
    [Fact]
    public async Task EveryAuthSpelling_ThroughTheProxy_NoFileHoldsASecret_AndTheUpstreamGetsEveryLine()
    {
        var findingsPath = Path.Combine(Path.GetTempPath(), "smtplens-auth-findings-" + Guid.NewGuid().ToString("N")[..12] + ".jsonl");
        var spellings = new Queue<AuthSpelling>(AuthSpellings.All);
        var answered = new List<(AuthSpelling Spelling, List<string> Lines)>();
        await using var upstream = ScriptedSmtpServer.Start(async c =>
        {
            AuthSpelling spelling;
            var lines = new List<string>();
            lock (answered)
            {
                spelling = spellings.Dequeue();
                answered.Add((spelling, lines));
            }

            await c.SendAsync("220 up.test ESMTP");
            lines.Add((await c.ExpectAsync("250-up.test", "250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER"))!);
            foreach (var (_, reply) in spelling.Steps)
            {
                lines.Add((await c.ReadLineAsync())!);
                await c.SendAsync(reply);
            }
        });
        try
        {
            await using (var findingsLog = new FindingsLog(findingsPath, "it"))
            {
                await using var f = await RelayFixture.StartAsync(null, new IPEndPoint(IPAddress.Loopback, upstream.Port), findings: findingsLog);
                foreach (var spelling in AuthSpellings.All)
                {
                    await RunClientAsync(f.ProxyEndPoint, spelling);
                }

                var summaries = await f.WaitForSessionsAsync(AuthSpellings.All.Length, TimeSpan.FromSeconds(60));

                var files = Directory.EnumerateFiles(f.TranscriptDirectory, "*", SearchOption.AllDirectories).ToList();
                Assert.Equal(3 * AuthSpellings.All.Length, files.Count(p => Path.GetExtension(p) is ".log" or ".jsonl" or ".csv"));
                if (File.Exists(findingsPath))
                {
                    files.Add(findingsPath);
                }

                var pieces = AuthSpellings.SecretPieces().ToList();
                foreach (var path in files)
                {
                    var text = await File.ReadAllTextAsync(path);
                    var leaked = pieces.FirstOrDefault(p => text.Contains(p, StringComparison.Ordinal));
                    Assert.True(leaked is null, $"{Path.GetFileName(path)} holds \"{leaked}\", a piece of an AUTH secret");
                }

                // Pipelined or not, the QUIT is a command in every session's log, and its 221 ends the session.
                Assert.All(summaries, s => Assert.Equal(SmtpLens.StateMachine.SessionEndReason.Quit, s.Reason));
                Assert.All(files.Where(p => p.EndsWith(".log", StringComparison.Ordinal)), p => Assert.Contains(" C: QUIT", File.ReadAllText(p), StringComparison.Ordinal));
            }

            // Redaction changed no byte: the upstream read every line as the client wrote it.
            Assert.Equal(AuthSpellings.All.Length, answered.Count);
            Assert.All(answered, a => Assert.Equal(["EHLO client.test", .. a.Spelling.Steps.Select(s => s.Line.TrimEnd('\n').TrimEnd('\r'))], a.Lines));
        }
        finally
        {
            File.Delete(findingsPath);
        }
    }

    /// <summary>One session: EHLO, then the spelling's lines, all at once when pipelined, else each after its reply.</summary>
    private static async Task RunClientAsync(IPEndPoint proxy, AuthSpelling spelling)
    {
        await using var client = await RawSmtpClient.ConnectAsync(proxy);
        Assert.True(await client.ReadUntilAsync("220 up.test"), spelling.Name);
        await client.SendAsync("EHLO client.test\r\n");
        Assert.True(await client.ReadUntilAsync("250 AUTH"), spelling.Name);
        if (spelling.Pipelined)
        {
            var from = client.ReceivedText.Length;
            await client.SendAsync(string.Concat(spelling.Steps.Select(s => s.Line)));
            Assert.True(await client.ReadUntilAsync(spelling.Steps[^1].Reply, TimeSpan.FromSeconds(20), from), $"{spelling.Name}: no {spelling.Steps[^1].Reply}; got {client.ReceivedText}");
            return;
        }

        foreach (var (line, reply) in spelling.Steps)
        {
            var from = client.ReceivedText.Length;
            await client.SendAsync(line);
            Assert.True(await client.ReadUntilAsync(reply, TimeSpan.FromSeconds(20), from), $"{spelling.Name}: no {reply} after {line.TrimEnd()}; got {client.ReceivedText}");
        }
    }
}
