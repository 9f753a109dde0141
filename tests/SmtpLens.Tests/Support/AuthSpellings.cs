using System.Text;

namespace SmtpLens.Tests.Support;

/// <summary>One AUTH exchange as the upstream sees it: each client line (terminator included) and the reply to it.</summary>
/// <param name="Pipelined">The client sends every line at once instead of waiting for each reply.</param>
internal sealed record AuthSpelling(string Name, bool Pipelined, IReadOnlyList<(string Line, string Reply)> Steps)
{
    /// <summary>What made line <paramref name="i"/> a SASL response: the upstream's 334 to the line before.</summary>
    public bool IsSaslResponse(int i) => i > 0 && Steps[i - 1].Reply.StartsWith("334", StringComparison.Ordinal);

    /// <summary>The verb of every line that is a command, as a transcript names it.</summary>
    public IReadOnlyList<string> CommandVerbs =>
        [.. Steps.Select((s, i) => (s.Line, i)).Where(x => !IsSaslResponse(x.i)).Select(x => x.Line.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries)[0].ToUpperInvariant())];

    public int SaslResponses => Enumerable.Range(0, Steps.Count).Count(IsSaslResponse);

    public override string ToString() => Name;
}

/// <summary>Every spelling of AUTH a client or a hostile tester may use; none may leave a secret in any output.</summary>
internal static class AuthSpellings
{
    public const string User = "sasl-user-q7";
    public const string Password = "Pw-9tab!Secret";
    public const string Token = "ya29.TOKEN-x1y2z3";
    public const string CramDigest = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    public static readonly string PlainB64 = B64($"\0{User}\0{Password}");
    public static readonly string UserB64 = B64(User);
    public static readonly string PasswordB64 = B64(Password);
    public static readonly string XOAuth2B64 = B64($"user={User}\u0001auth=Bearer {Token}\u0001\u0001");
    public static readonly string OAuthBearerB64 = B64($"n,a={User},\u0001auth=Bearer {Token}\u0001\u0001");
    public static readonly string CramB64 = B64($"{User} {CramDigest}");

    /// <summary>Each secret as sent (base64) and decoded.</summary>
    public static readonly string[] Secrets = [PlainB64, UserB64, PasswordB64, XOAuth2B64, OAuthBearerB64, CramB64, User, Password, Token, CramDigest];

    private const string Accepted = "235 2.7.0 Authentication successful";
    private const string AskUser = "334 VXNlcm5hbWU6";
    private const string AskPassword = "334 UGFzc3dvcmQ6";

    public static readonly AuthSpelling[] All =
    [
        Spelling("tab-separators", false, ($"AUTH\tPLAIN\t{PlainB64}\r\n", Accepted)),
        Spelling("double-spaces", false, ($"AUTH  PLAIN  {PlainB64}\r\n", Accepted)),
        Spelling("blanks-everywhere", false, ($" AUTH \t PLAIN\t \t{PlainB64}\t\r\n", Accepted)),
        Spelling("bare-lf", false, ($"AUTH PLAIN {PlainB64}\n", Accepted)),
        Spelling("lower-case", false, ($"auth plain {PlainB64}\r\n", Accepted)),
        Spelling("mixed-case-login", false, ("Auth Login\r\n", AskUser), ($"{UserB64}\r\n", AskPassword), ($"{PasswordB64}\r\n", Accepted)),
        Spelling("plain-continuation", false, ("AUTH PLAIN\r\n", "334 "), ($"{PlainB64}\r\n", Accepted)),
        Spelling("tab-continuation", false, ("AUTH\tPLAIN\r\n", "334 "), ($"{PlainB64}\r\n", Accepted)),
        Spelling("tab-login-bare-lf", false, ("auth\tlogin\n", AskUser), ($"{UserB64}\n", AskPassword), ($"{PasswordB64}\n", Accepted)),
        Spelling("login-initial-username", false, ($"AUTH LOGIN {UserB64}\r\n", AskPassword), ($"{PasswordB64}\r\n", Accepted)),
        Spelling("cram-md5", false, ("AUTH CRAM-MD5\r\n", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"), ($"{CramB64}\r\n", Accepted)),
        Spelling("xoauth2", false, ($"AUTH XOAUTH2 {XOAuth2B64}\r\n", Accepted)),
        Spelling("xoauth2-error-challenge", false, ($"AUTH XOAUTH2 {XOAuth2B64}\r\n", "334 eyJzdGF0dXMiOiI0MDEifQ=="), ("\r\n", "535 5.7.8 Username and Password not accepted")),
        Spelling("oauthbearer", false, ($"AUTH OAUTHBEARER {OAuthBearerB64}\r\n", Accepted)),
        Spelling("empty-initial-response", false, ("AUTH PLAIN =\r\n", "535 5.7.8 Authentication credentials invalid"), ($"AUTH PLAIN {PlainB64}\r\n", Accepted)),
        Spelling("cancel", false, ("AUTH LOGIN\r\n", AskUser), ($"{UserB64}\r\n", AskPassword), ("*\r\n", "501 5.7.0 Authentication cancelled"), ($"AUTH PLAIN {PlainB64}\r\n", Accepted)),
        Spelling("token-as-mechanism", false, ($"AUTH {PlainB64}\r\n", "504 5.5.4 Unrecognized authentication type")),
        Spelling("pipelined-continuation-then-quit", true, ("AUTH PLAIN\r\n", "334 "), ($"{PlainB64}\r\n", Accepted), ("QUIT\r\n", "221 2.0.0 Bye")),
        Spelling("pipelined-initial-response-then-mail", true, ($"AUTH PLAIN {PlainB64}\r\n", Accepted), ("MAIL FROM:<a@example.test>\r\n", "250 2.1.0 Ok"), ("QUIT\r\n", "221 2.0.0 Bye")),
        Spelling("pipelined-login-then-noop", true, ("AUTH LOGIN\r\n", AskUser), ($"{UserB64}\r\n", AskPassword), ($"{PasswordB64}\r\n", Accepted), ("NOOP\r\n", "250 2.0.0 Ok")),
        Spelling("pipelined-refused-then-rset", true, ($"AUTH\tPLAIN\t{PlainB64}\r\n", "535 5.7.8 Authentication credentials invalid"), ("RSET\r\n", "250 2.0.0 Ok")),
    ];

    public static AuthSpelling Named(string name) => All.Single(s => s.Name == name);

    /// <summary>Every 10-character piece of every secret: a piece would give part of a token away.</summary>
    public static IEnumerable<string> SecretPieces() =>
        Secrets.SelectMany(s => s.Length <= 10 ? [s] : Enumerable.Range(0, s.Length - 9).Select(i => s.Substring(i, 10))).Distinct();

    private static AuthSpelling Spelling(string name, bool pipelined, params (string Line, string Reply)[] steps) =>
        new(name, pipelined, steps[^1].Line.StartsWith("QUIT", StringComparison.Ordinal) ? steps : [.. steps, ("QUIT\r\n", "221 2.0.0 Bye")]);

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
