using SmtpLens.Transcripts;

namespace SmtpLens.Policy;

/// <summary>The policy ids of the <c>tls-policy</c> event: an interface (transcripts, --sender-policy, tlsrpt), never rename one.</summary>
internal static class PolicyIds
{
    public const string PostfixNone = "postfix:none";
    public const string PostfixMay = "postfix:may";
    public const string PostfixEncrypt = "postfix:encrypt";
    public const string PostfixDane = "postfix:dane";
    public const string PostfixVerify = "postfix:verify";
    public const string PostfixSecure = "postfix:secure";
    public const string Dane = "dane";
    public const string MtaSts = "mta-sts";
    public const string ExoEncryptionOnly = "exo:EncryptionOnly";
    public const string ExoCertificateValidation = "exo:CertificateValidation";
    public const string ExoDomainValidationPrefix = "exo:DomainValidation:";
    public const string ExoInbound = "exo-inbound";

    public static readonly IReadOnlyList<string> Fixed =
    [
        PostfixNone, PostfixMay, PostfixEncrypt, PostfixDane, PostfixVerify, PostfixSecure, Dane, MtaSts, ExoEncryptionOnly, ExoCertificateValidation, ExoInbound,
    ];

    /// <summary>A known id, or exo:DomainValidation:&lt;TlsDomain&gt; with a domain; the canonical spelling, or null.</summary>
    public static string? Normalize(string id)
    {
        if (id.StartsWith(ExoDomainValidationPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var domain = id[ExoDomainValidationPrefix.Length..].Trim().TrimEnd('.');
            return domain.Length > 0 && !domain.Contains(' ', StringComparison.Ordinal) ? ExoDomainValidationPrefix + domain.ToLowerInvariant() : null;
        }

        return Fixed.FirstOrDefault(f => f.Equals(id, StringComparison.OrdinalIgnoreCase));
    }
}

internal enum Verdict
{
    Pass,
    Fail,
    NotApplicable,
}

/// <summary>What one sending policy would have decided about the observed upstream: the verdict, the one deciding
/// reason (in the sender's own words where it has them), and the facts behind it.</summary>
internal sealed record PolicyVerdict(string Policy, Verdict Verdict, string Reason, IReadOnlyDictionary<string, object?> Fields)
{
    /// <summary>The transcript event kind; data is <see cref="ToData"/>.</summary>
    public const string EventKind = EventKinds.TlsPolicy;

    /// <summary>The user said the real sender uses this policy (--sender-policy): a fail raises TLS_POLICY_WOULD_FAIL.</summary>
    public bool Sender { get; init; }

    public string VerdictName => Name(Verdict);

    public static string Name(Verdict verdict) => verdict switch
    {
        Verdict.Pass => "pass",
        Verdict.Fail => "fail",
        _ => "not-applicable",
    };

    public string Line() => $"policy {Policy}: {VerdictName.ToUpperInvariant()}: {Reason}{(Sender ? " [sender policy]" : string.Empty)}";

    public IReadOnlyDictionary<string, object?> ToData()
    {
        var data = new Dictionary<string, object?>(Fields.Count + 4)
        {
            ["policy"] = Policy,
            ["verdict"] = VerdictName,
            ["reason"] = Reason,
            ["sender"] = Sender,
        };
        foreach (var (key, value) in Fields)
        {
            data.TryAdd(key, value);
        }

        return data;
    }

    /// <summary>The <c>--findings</c> line: policy, verdict, reason, sender, and the facts nested (jq: <c>select(.type == "tls-policy")</c>).</summary>
    public Findings.FindingsLogRecord ToLogRecord(string session, DateTimeOffset at) => new(EventKind, at, session, new Dictionary<string, object?>
    {
        ["policy"] = Policy,
        ["verdict"] = VerdictName,
        ["reason"] = Reason,
        ["sender"] = Sender,
        ["facts"] = Fields,
    });

    public void Record(ITranscriptRecorder transcript) => transcript.Record(Direction.Proxy, EventKind, Line(), ToData());
}
