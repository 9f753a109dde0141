using System.Runtime.Versioning;
using System.Text.Json;
using SmtpLens.IntegrationTests.RealPeers;
using SmtpLens.IntegrationTests.Relay;
using SmtpLens.Lab;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>
/// A sender that resumes its TLS 1.2 session (openssl s_client -sess_out, then -sess_in) through the real proxy: the
/// client leg resumes by session ID, the upstream leg does a full handshake, and the key log still covers both.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SessionResumptionTests : IDisposable
{
    private const string ServerName = "mx.resume.test";

    private readonly TlsTestPki _pki = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("smtplens-resume-").FullName;

    public void Dispose()
    {
        _pki.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task OpenSsl_Resumes_Its_Tls12_Session_On_The_Client_Leg_While_The_Upstream_Leg_Does_A_Full_Handshake()
    {
        var keyLogPath = Path.Combine(_dir, "keys.log");
        using var keyLog = new NssKeyLog(keyLogPath);
        await using var proxy = await RelayFixture.StartAsync(
            new LabServerOptions { TlsCertificate = _pki.UpstreamCertificate(ServerName) },
            tls: new TlsInterceptionOptions { Authority = _pki.ProxyCa, KeyLog = keyLog });
        var session = Path.Combine(_dir, "session.pem");

        var first = await SClientAsync(proxy, "-sess_out", session);
        Assert.Contains("New, TLSv1.2, Cipher is ", first.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(session), first.Output);
        var second = await SClientAsync(proxy, "-sess_in", session);
        Assert.Contains("Reused, TLSv1.2, Cipher is ", second.Output, StringComparison.Ordinal);

        var summaries = (await proxy.WaitForSessionsAsync(2)).OrderBy(s => s.SessionId, StringComparer.Ordinal).ToList();
        var firstLegs = TlsLegs(proxy, summaries[0].SessionId);
        var secondLegs = TlsLegs(proxy, summaries[1].SessionId);
        if (firstLegs["client"].GetProperty("resumed").GetBoolean())
        {
            (firstLegs, secondLegs) = (secondLegs, firstLegs);
        }

        Assert.False(firstLegs["client"].GetProperty("resumed").GetBoolean());
        Assert.True(secondLegs["client"].GetProperty("resumed").GetBoolean());
        Assert.True(secondLegs["client"].GetProperty("completed").GetBoolean());
        Assert.Equal("TLSv1.2", secondLegs["client"].GetProperty("version").GetString());

        // Nothing was offered upstream to resume: the upstream leg is a full handshake with the upstream's certificate.
        Assert.False(secondLegs["upstream"].GetProperty("resumed").GetBoolean());
        Assert.True(secondLegs["upstream"].GetProperty("completed").GetBoolean());
        Assert.Equal($"CN={ServerName}", secondLegs["upstream"].GetProperty("serverCertificates")[0].GetProperty("subject").GetString());
        var resumedSession = summaries.Single(s => TlsLegs(proxy, s.SessionId)["client"].GetProperty("resumed").GetBoolean()).SessionId;
        Assert.Contains("client leg: TLSv1.2", proxy.ReadTranscript(resumedSession, ".log"), StringComparison.Ordinal);
        Assert.Contains(", resumed (abbreviated handshake)", proxy.ReadTranscript(resumedSession, ".log"), StringComparison.Ordinal);

        // The key log still decrypts the resumed leg: a CLIENT_RANDOM line for its new client random, carrying the
        // master secret of the session it resumed.
        var clientLegSecrets = ClientLegSecrets(await File.ReadAllLinesAsync(keyLogPath));
        Assert.Equal(2, clientLegSecrets.Count);
        Assert.NotEqual(clientLegSecrets[0].Random, clientLegSecrets[1].Random);
        Assert.Equal(clientLegSecrets[0].MasterSecret, clientLegSecrets[1].MasterSecret);
    }

    private static async Task<ChildProcessResult> SClientAsync(RelayFixture proxy, params string[] session)
    {
        var result = await OpenSsl.RunAsync(
            [
                "s_client", "-starttls", "smtp", "-connect", $"127.0.0.1:{proxy.ProxyEndPoint.Port}", "-servername", ServerName,
                "-tls1_2", "-crlf", "-nocommands", .. session,
            ],
            stdin: "QUIT\n");
        Assert.True(result.ExitCode == 0 && !result.TimedOut, $"openssl s_client failed:\n{result.CommandLine}\n{result.Output}");
        return result;
    }

    private static List<(string Random, string MasterSecret)> ClientLegSecrets(string[] lines)
    {
        var secrets = new List<(string, string)>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i - 1].EndsWith(" client leg", StringComparison.Ordinal) && lines[i].StartsWith("CLIENT_RANDOM ", StringComparison.Ordinal))
            {
                var fields = lines[i].Split(' ');
                secrets.Add((fields[1], fields[2]));
            }
        }

        return secrets;
    }

    private static Dictionary<string, JsonElement> TlsLegs(RelayFixture proxy, string sessionId) =>
        proxy.ReadTranscript(sessionId, ".jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "tls" && e.TryGetProperty("data", out var d) && d.TryGetProperty("leg", out _))
            .Select(e => e.GetProperty("data").Clone())
            .ToDictionary(l => l.GetProperty("leg").GetString()!);
}
