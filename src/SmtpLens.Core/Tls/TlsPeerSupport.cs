using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using SmtpLens.Tls.Engine;
using BcCertificate = Org.BouncyCastle.Tls.Certificate;

namespace SmtpLens.Tls;

/// <summary>A certificate chain (DER, leaf first) and its private key.</summary>
/// <remarks>Reference equality: one identity object is shared by the sessions that present it.</remarks>
internal sealed class TlsIdentity
{
    private TlsIdentity(IReadOnlyList<byte[]> chainDer, byte[] pkcs8)
    {
        ChainDer = chainDer;
        Pkcs8 = pkcs8;
        PrivateKey = PrivateKeyFactory.CreateKey(pkcs8);
    }

    public IReadOnlyList<byte[]> ChainDer { get; }

    /// <summary>The leaf's private key, PKCS#8 DER (the framework signs with it).</summary>
    public byte[] Pkcs8 { get; }

    public AsymmetricKeyParameter PrivateKey { get; }

    public bool IsEc => PrivateKey is ECPrivateKeyParameters;

    /// <summary>Runs <paramref name="sign"/> with a framework key object (<see cref="System.Security.Cryptography.RSA"/> or <see cref="System.Security.Cryptography.ECDsa"/>)
    /// of this identity that no other thread is using.</summary>
    /// <remarks>perf: importing the PKCS#8 key cost about as much CPU as the signature itself, once per handshake;
    /// the objects are kept and reused, one caller at a time (the instances are not documented thread-safe).</remarks>
    public T WithSigningKey<T>(Func<System.Security.Cryptography.AsymmetricAlgorithm, T> sign)
    {
        if (!_signingKeys.TryTake(out var key))
        {
            System.Security.Cryptography.AsymmetricAlgorithm created = IsEc ? System.Security.Cryptography.ECDsa.Create() : System.Security.Cryptography.RSA.Create();
            created.ImportPkcs8PrivateKey(Pkcs8, out _);
            key = created;
        }

        try
        {
            return sign(key);
        }
        finally
        {
            _signingKeys.Add(key);
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentBag<System.Security.Cryptography.AsymmetricAlgorithm> _signingKeys = [];

    /// <summary>The chain's summaries, parsed once: a forged identity is presented in many sessions.</summary>
    public IReadOnlyList<CertificateSummary> Summaries => field ??= [.. ChainDer.Select(CertificateSummary.FromDer)];

    /// <param name="chainDer">Leaf first.</param>
    /// <param name="pkcs8">The leaf's private key, PKCS#8 DER.</param>
    public static TlsIdentity From(IEnumerable<byte[]> chainDer, byte[] pkcs8) => new([.. chainDer], pkcs8);

    /// <summary>The chain as a Certificate message body; TLS 1.3 carries a request context (empty for a server).</summary>
    public BcCertificate ToCertificate(TlsCrypto crypto, byte[]? context13)
    {
        var certificates = ChainDer.Select(crypto.CreateCertificate).ToArray();
        return context13 is null
            ? new BcCertificate(certificates)
            : new BcCertificate(context13, [.. certificates.Select(c => new CertificateEntry(c, null))]);
    }
}

/// <summary>Callbacks shared by the two BouncyCastle peers: alerts, completion, key material.</summary>
internal sealed class TlsPeerEvents(TlsLegRecord record, TimeProvider time)
{
    private readonly long _started = time.GetTimestamp();
    private bool _handshakeSecretsLogged;

    public TlsLegRecord Record => record;

    public bool HandshakeComplete { get; private set; }

    /// <summary>Receives (NSS key-log label, client random, secret) for the key log.</summary>
    public Action<string, byte[], byte[]>? KeyMaterial { get; init; }

    /// <summary>Alerts after the handshake (renegotiation, close_notify) are reported as they happen.</summary>
    public Action<TlsAlertEvent>? AfterHandshakeAlert { get; set; }

    /// <summary>Set when the leg must end: SmtpLens refused a renegotiation attempt.</summary>
    public string? AbortReason { get; private set; }

    public void AlertRaised(short level, short description, string? message) =>
        Add(new TlsAlertEvent(new TlsAlert((byte)level, (byte)description), TlsSide.SmtpLens, !HandshakeComplete, time.GetUtcNow(), message));

    public void AlertReceived(short level, short description) =>
        Add(new TlsAlertEvent(new TlsAlert((byte)level, (byte)description), TlsSide.Peer, !HandshakeComplete, time.GetUtcNow(), null));

    private void Add(TlsAlertEvent alert)
    {
        record.AddAlert(alert);
        if (!HandshakeComplete)
        {
            return;
        }

        if (alert.RaisedBy == TlsSide.SmtpLens && (short)alert.Alert.Description is AlertDescription.no_renegotiation or AlertDescription.handshake_failure or AlertDescription.unexpected_message)
        {
            AbortReason = $"{record.Leg} leg: TLS renegotiation attempt refused ({alert.Alert} sent); session ended";
        }

        AfterHandshakeAlert?.Invoke(alert);
    }

    /// <summary>A per-peer crypto whose record-cipher hook logs the secrets live at that moment.</summary>
    public EngineCrypto CreateCrypto()
    {
        var crypto = new EngineCrypto(new SecureRandom());
        if (KeyMaterial is not null)
        {
            crypto.CipherCreated = CipherCreated;
        }

        return crypto;
    }

    private void CipherCreated(SecurityParameters parameters)
    {
        // TLS 1.2 and below: the master secret is live while the key block is derived, and gone (moved into the
        // session) by the time the handshake completes. TLS 1.3: the first cipher carries the handshake secrets; the
        // second (application) cipher carries the traffic secrets, which Completed logs under their own labels.
        if (TlsUtilities.IsTlsV13(parameters.NegotiatedVersion))
        {
            if (_handshakeSecretsLogged)
            {
                return;
            }

            _handshakeSecretsLogged = true;
            Log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", parameters, parameters.TrafficSecretClient);
            Log("SERVER_HANDSHAKE_TRAFFIC_SECRET", parameters, parameters.TrafficSecretServer);
        }
        else
        {
            Log("CLIENT_RANDOM", parameters, parameters.MasterSecret);
        }
    }

    private void Log(string label, SecurityParameters parameters, TlsSecret? secret)
    {
        if (KeyMaterial is { } write && SecretCopy.Of(secret) is { } copy)
        {
            write(label, (byte[])parameters.ClientRandom.Clone(), copy);
        }
    }

    public void Completed(TlsContext context)
    {
        var parameters = context.SecurityParameters;
        record.Version = parameters.NegotiatedVersion.FullVersion;
        record.CipherSuite = parameters.CipherSuite;
        record.ExtendedMasterSecret = TlsUtilities.IsTlsV13(parameters.NegotiatedVersion) ? null : parameters.IsExtendedMasterSecret;
        record.Group = parameters.NegotiatedGroup >= 0 ? parameters.NegotiatedGroup : null;
        record.Resumed = parameters.IsResumedSession;
        record.Duration = time.GetElapsedTime(_started);
        record.Completed = true;
        if (TlsUtilities.IsTlsV13(parameters.NegotiatedVersion))
        {
            Log("CLIENT_TRAFFIC_SECRET_0", parameters, parameters.TrafficSecretClient);
            Log("SERVER_TRAFFIC_SECRET_0", parameters, parameters.TrafficSecretServer);
            Log("EXPORTER_SECRET", parameters, parameters.ExporterMasterSecret);
        }

        HandshakeComplete = true;
    }

    public static IEnumerable<byte[]> Der(BcCertificate? chain) =>
        chain is null || chain.IsEmpty ? [] : chain.GetCertificateList().Select(c => c.GetEncoded());
}

/// <summary>Copies a secret's bytes without destroying it: TlsSecret.Extract() destroys, Encrypt() lends the bytes.</summary>
internal sealed class SecretCopy : TlsEncryptor
{
    private static readonly SecretCopy Instance = new();

    public static byte[]? Of(TlsSecret? secret) => secret is not null && secret.IsAlive() ? secret.Encrypt(Instance) : null;

    public byte[] Encrypt(byte[] input, int inOff, int length) => input.AsSpan(inOff, length).ToArray();
}

/// <summary>SmtpLens as the TLS server on the client leg, presenting a forged or configured certificate.</summary>
/// <param name="clientCertificateSeen">Receives the client's chain (DER, leaf first; empty when it sent none).</param>
internal sealed class InterceptingTlsServer(EngineCrypto crypto, TlsPolicy policy, TlsIdentity identity, bool requestClientCertificate, int? preferredSuite, TlsPeerEvents events, Action<IReadOnlyList<byte[]>>? clientCertificateSeen = null)
    : DefaultTlsServer(crypto)
{
    private static readonly SignatureAndHashAlgorithm[] RequestedSignatures =
    [
        SignatureAndHashAlgorithm.rsa_pss_rsae_sha256,
        new(HashAlgorithm.sha256, SignatureAlgorithm.rsa),
        new(HashAlgorithm.sha256, SignatureAlgorithm.ecdsa),
        new(HashAlgorithm.sha384, SignatureAlgorithm.ecdsa),
        new(HashAlgorithm.sha1, SignatureAlgorithm.rsa),
    ];

    /// <summary>The version the upstream chose: the client leg answers with it (when the policy allows it), as
    /// the real server would have.</summary>
    public int? UpstreamVersion { get; init; }

    /// <summary>TLS 1.2 session-ID resumption for this client leg; null gives every client a full handshake.</summary>
    public ClientSessionResumption? Resumption { get; init; }

    public override byte[]? GetNewSessionID() => Resumption is null ? null : ClientSessionCache.NewSessionId();

    public override TlsSession? GetSessionToResume(byte[] sessionID) => Resumption?.Find(sessionID);

    protected override ProtocolVersion[] GetSupportedVersions()
    {
        var allowed = policy.BouncyVersions();
        return UpstreamVersion is { } v && allowed.FirstOrDefault(a => a.FullVersion == v) is { } chosen ? [chosen] : allowed;
    }

    /// <summary>The (EC)DHE group the upstream chose: the client leg takes it too when the client offered it,
    /// asking for a key share in it (HelloRetryRequest) where the real server did.</summary>
    public int? UpstreamGroup { get; init; }

    public override int[] GetSupportedGroups()
    {
        var groups = base.GetSupportedGroups();
        return UpstreamGroup is { } chosen ? [chosen, .. groups.Where(g => g != chosen)] : groups;
    }

    // TLS 1.3: by default the engine takes the client's first common group, which need not be the upstream's.
    public override bool PreferLocalSupportedGroups() => UpstreamGroup is not null;

    // TLS 1.2 ECDHE: the engine's default is the client's first curve, whatever the upstream chose.
    protected override int SelectECDH(int minimumCurveBits) =>
        UpstreamGroup is { } chosen && NamedGroup.RefersToAnECDHCurve(chosen) && NamedGroup.GetCurveBits(chosen) >= minimumCurveBits
            && m_context.SecurityParameters.ClientSupportedGroups is { } offered && offered.Contains(chosen)
            ? chosen
            : base.SelectECDH(minimumCurveBits);

    protected override int[] GetSupportedCipherSuites()
    {
        // Only suites our certificate can serve: an ECDSA upstream's suite is useless with an RSA forgery.
        var ec = identity.IsEc;
        var suites = policy.CipherSuites.Where(s => TlsPolicy.IsTls13Suite(s) || TlsNames.CipherSuite(s).Contains("_ECDSA_", StringComparison.Ordinal) == ec).ToList();

        // Prefer what the upstream chose, so the client leg looks like the real server where it can; with a forged
        // key of another type (an ECDSA leaf for an RSA upstream), its twin: same key exchange and bulk cipher. An
        // anonymous suite is in no policy list; it is answered only when the upstream chose it (and the client offered it).
        if (preferredSuite is { } p && (TlsPolicy.IsAnonymous(p) || suites.Contains(p) ? p : AuthenticationTwin(p)) is var mine && (suites.Remove(mine) || TlsPolicy.IsAnonymous(mine)))
        {
            suites.Insert(0, mine);
        }

        return TlsUtilities.GetSupportedCipherSuites(Crypto, [.. suites]);
    }

    /// <summary>TLS_ECDHE_RSA_WITH_X for TLS_ECDHE_ECDSA_WITH_X and back; -1 when there is none.</summary>
    private static int AuthenticationTwin(int suite)
    {
        var name = TlsNames.CipherSuite(suite);
        var twin = name.Contains("_ECDHE_RSA_", StringComparison.Ordinal) ? name.Replace("_ECDHE_RSA_", "_ECDHE_ECDSA_", StringComparison.Ordinal)
            : name.Contains("_ECDHE_ECDSA_", StringComparison.Ordinal) ? name.Replace("_ECDHE_ECDSA_", "_ECDHE_RSA_", StringComparison.Ordinal)
            : null;
        return twin is not null && typeof(CipherSuite).GetField(twin)?.GetRawConstantValue() is int value ? value : -1;
    }

    // Our order decides (the upstream's choice first), as a server configured with a preference would.
    protected override bool PreferLocalCipherSuites() => true;

    public override TlsCredentials GetCredentials()
    {
        // BouncyCastle's default knows only the TLS 1.2 key exchanges and fails 1.3 with internal_error.
        if (!TlsUtilities.IsTlsV13(m_context))
        {
            return base.GetCredentials();
        }

        var offered = m_context.SecurityParameters.ClientSigAlgs ?? [];
        var chosen = offered.FirstOrDefault(a => identity.IsEc ? a.Signature == SignatureAlgorithm.ecdsa : a.Signature is SignatureAlgorithm.rsa_pss_rsae_sha256 or SignatureAlgorithm.rsa_pss_rsae_sha384 or SignatureAlgorithm.rsa_pss_rsae_sha512)
            ?? throw new TlsFatalAlert(AlertDescription.handshake_failure, new IOException("the client offers no TLS 1.3 signature scheme for SmtpLens's certificate key"));
        return FrameworkSigner.Credentials(m_context, crypto, identity, identity.ToCertificate(crypto, []), chosen);
    }

    protected override TlsCredentialedSigner GetRsaSignerCredentials() => Signer(SignatureAlgorithm.rsa);

    protected override TlsCredentialedSigner GetECDsaSignerCredentials() => Signer(SignatureAlgorithm.ecdsa);

    private TlsCredentialedSigner Signer(short signature)
    {
        SignatureAndHashAlgorithm? chosen = null;
        if (m_context.SecurityParameters.ClientSigAlgs is { } algorithms)
        {
            chosen = algorithms.FirstOrDefault(a => a.Signature == signature && a.Hash is >= HashAlgorithm.sha256 and <= HashAlgorithm.sha512)
                ?? algorithms.FirstOrDefault(a => a.Signature == signature && a.Hash is >= HashAlgorithm.sha1 and <= HashAlgorithm.sha512);
        }

        if (chosen is null && TlsUtilities.IsTlsV12(m_context))
        {
            chosen = new SignatureAndHashAlgorithm(HashAlgorithm.sha1, signature);
        }

        return FrameworkSigner.Credentials(m_context, crypto, identity, identity.ToCertificate(crypto, null), chosen);
    }

    protected override TlsCredentialedDecryptor GetRsaEncryptionCredentials() =>
        new BcDefaultTlsCredentialedDecryptor(crypto, identity.ToCertificate(crypto, null), identity.PrivateKey);

    public override CertificateRequest? GetCertificateRequest()
    {
        if (!requestClientCertificate)
        {
            return null;
        }

        events.Record.ClientCertificateRequested = true;
        if (TlsUtilities.IsTlsV13(m_context))
        {
            return new CertificateRequest([], RequestedSignatures, null, null);
        }

        var algorithms = TlsUtilities.IsTlsV12(m_context) ? RequestedSignatures[1..] : null;
        return new CertificateRequest([ClientCertificateType.rsa_sign, ClientCertificateType.ecdsa_sign], algorithms, null);
    }

    public override void NotifyClientCertificate(BcCertificate clientCertificate)
    {
        var chain = TlsPeerEvents.Der(clientCertificate).ToList();
        foreach (var der in chain)
        {
            events.Record.ClientCertificates.Add(CertificateSummary.FromDer(der));
        }

        clientCertificateSeen?.Invoke(chain);
    }

    public override void NotifySecureRenegotiation(bool secureRenegotiation) => events.Record.SecureRenegotiation = secureRenegotiation;

    public override void NotifyAlertRaised(short alertLevel, short alertDescription, string message, Exception cause)
    {
        InvalidateOnFatal(alertLevel);
        events.AlertRaised(alertLevel, alertDescription, message ?? cause?.Message);
    }

    public override void NotifyAlertReceived(short alertLevel, short alertDescription)
    {
        InvalidateOnFatal(alertLevel);
        events.AlertReceived(alertLevel, alertDescription);
    }

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        events.Completed(m_context);
        if (Resumption is { } resumption && !m_context.SecurityParameters.IsResumedSession && m_context.Session is { } session)
        {
            _cachedSession = resumption.Add(session);
        }
    }

    private TlsSession? _cachedSession;

    // A session whose connection ends in a fatal alert is not resumed (RFC 5246 7.2.2); the cached copy is ours to invalidate.
    private void InvalidateOnFatal(short level)
    {
        if (level == AlertLevel.fatal)
        {
            _cachedSession?.Invalidate();
        }
    }
}

/// <summary>One client leg's view of the listener's session cache: the binding it may resume under.</summary>
internal sealed record ClientSessionResumption(ClientSessionCache Cache, string Binding, DateTimeOffset CertificateNotAfter)
{
    public TlsSession? Find(byte[] sessionId) => Cache.Find(sessionId, Binding);

    /// <summary>Caches a lean copy of <paramref name="session"/> and returns it.</summary>
    /// <remarks>perf: BouncyCastle's session keeps the parsed certificate chain (about 11 KB of heap per session,
    /// measured); a resumed handshake sends no certificate, so the copy keeps only what resumption needs.</remarks>
    public TlsSession Add(TlsSession session)
    {
        var full = session.ExportSessionParameters();
        var lean = TlsUtilities.ImportSession(session.SessionID, new SessionParameters.Builder()
            .SetCipherSuite(full.CipherSuite)
            .SetExtendedMasterSecret(full.IsExtendedMasterSecret)
            .SetMasterSecret(full.MasterSecret)
            .SetNegotiatedVersion(full.NegotiatedVersion)
            .Build());
        Cache.Add(lean, Binding, CertificateNotAfter);
        return lean;
    }
}

/// <summary>SmtpLens as the TLS client on the upstream leg.</summary>
/// <param name="clientIdentitySource">Decides the client certificate when the upstream asks, overriding
/// <paramref name="clientIdentity"/>; it may block until the sending MTA's own certificate is known.</param>
internal sealed class UpstreamTlsClient(EngineCrypto crypto, TlsPolicy policy, string? serverName, TlsIdentity? clientIdentity, Action<BcCertificate> serverCertificate, TlsPeerEvents events, Func<TlsIdentity?>? clientIdentitySource = null)
    : DefaultTlsClient(crypto)
{
    private readonly TlsIdentity? _clientIdentity = clientIdentity;
    private readonly Func<TlsIdentity?>? _clientIdentitySource = clientIdentitySource;
    private readonly TlsPeerEvents _events = events;
    private readonly EngineCrypto _crypto = crypto;

    /// <summary>The suite the server chose, known once its ServerHello is processed.</summary>
    public int? SelectedCipherSuite { get; private set; }

    /// <summary>The certificate SmtpLens presented upstream, if any.</summary>
    public TlsIdentity? PresentedIdentity { get; private set; }

    /// <summary>The sending MTA's ClientHello: when set, the upstream is offered what it offered (as far as the
    /// engine and the policy allow) so that the upstream chooses what it would choose for the real sender.</summary>
    public ClientHello? Mirror { get; init; }

    /// <summary>What the sender offered that SmtpLens could not offer upstream, each with the reason.</summary>
    public List<string> NotOfferedUpstream { get; } = [];

    /// <summary>The version the server chose, known once its ServerHello is processed.</summary>
    public int? SelectedVersion { get; private set; }

    protected override ProtocolVersion[] GetSupportedVersions()
    {
        var allowed = policy.BouncyVersions();
        if (Mirror is not { } hello)
        {
            return allowed;
        }

        // Without supported_versions a client offers everything up to its legacy_version.
        var offered = hello.SupportedVersions.Count > 0
            ? hello.SupportedVersions.Where(v => !TlsNames.IsGrease(v)).ToList()
            : [.. Enumerable.Range(0x0301, Math.Max(0, hello.LegacyVersion - 0x0300)).Reverse()];
        var mirrored = offered.Where(v => allowed.Any(a => a.FullVersion == v)).Select(TlsPolicy.ToBouncy).ToArray();
        NotOfferedUpstream.AddRange(offered.Where(v => allowed.All(a => a.FullVersion != v)).Select(v => $"version {TlsNames.Version(v)} (outside the upstream policy)"));
        return mirrored.Length > 0 ? mirrored : allowed;
    }

    protected override int[] GetSupportedCipherSuites()
    {
        var engine = TlsUtilities.GetSupportedCipherSuites(Crypto, [.. policy.CipherSuites]);
        if (Mirror is not { } hello)
        {
            return engine;
        }

        var mirrored = new List<int>();
        foreach (var suite in hello.CipherSuites)
        {
            // The signalling values are the engine's to send (renegotiation SCSV) or not ours to claim (fallback SCSV).
            if (suite is 0x00ff or 0x5600)
            {
                continue;
            }

            // Anonymous (EC)DH suites are in no policy list, but a sender that offers them (Postfix at its
            // opportunistic levels, for one) gets them from an upstream that prefers them: offer them too.
            if (engine.Contains(suite) || (TlsPolicy.IsAnonymous(suite) && TlsUtilities.IsSupportedCipherSuite(Crypto, suite)))
            {
                mirrored.Add(suite);
            }
            else
            {
                NotOfferedUpstream.Add($"cipher suite {TlsNames.CipherSuite(suite)} ({(TlsNames.IsGrease(suite) ? "GREASE" : policy.CipherSuites.Contains(suite) ? "not implemented by the engine" : "not in the upstream policy")})");
            }
        }

        return mirrored.Count > 0 ? [.. mirrored] : engine;
    }

    protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles)
    {
        if (Mirror is not { SupportedGroups.Count: > 0 } hello)
        {
            return base.GetSupportedGroups(namedGroupRoles);
        }

        var groups = hello.SupportedGroups.Where(g => !TlsNames.IsGrease(g) && Crypto.HasNamedGroup(g)).ToList();
        NotOfferedUpstream.AddRange(hello.SupportedGroups.Where(g => !TlsNames.IsGrease(g) && !Crypto.HasNamedGroup(g)).Select(g => $"group {TlsNames.Group(g)} (not implemented by the engine)"));
        return groups.Count > 0 ? groups : base.GetSupportedGroups(namedGroupRoles);
    }

    public override IList<int> GetEarlyKeyShareGroups()
    {
        if (Mirror is not { } hello || m_supportedGroups is not { Count: > 0 } offered)
        {
            return base.GetEarlyKeyShareGroups();
        }

        // The sender's key-share groups, so an upstream that would send it a HelloRetryRequest sends us one too.
        var shares = hello.KeyShareGroups.Where(offered.Contains).ToList();
        NotOfferedUpstream.AddRange(hello.KeyShareGroups.Where(g => !offered.Contains(g)).Select(g => $"key share {TlsNames.Group(g)} ({(TlsNames.IsGrease(g) ? "GREASE" : "group not implemented by the engine")})"));
        return shares.Count > 0 || hello.KeyShareGroups.Count > 0 ? shares : base.GetEarlyKeyShareGroups();
    }

    protected override IList<SignatureAndHashAlgorithm> GetSupportedSignatureAlgorithms()
    {
        if (Mirror is not { SignatureAlgorithms.Count: > 0 } hello)
        {
            return base.GetSupportedSignatureAlgorithms();
        }

        var algorithms = hello.SignatureAlgorithms
            .Where(a => !TlsNames.IsGrease(a))
            .Select(a => SignatureAndHashAlgorithm.GetInstance((short)(a >> 8), (short)(a & 0xff)))
            .Where(Crypto.HasSignatureAndHashAlgorithm)
            .ToList();
        NotOfferedUpstream.AddRange(hello.SignatureAlgorithms.Where(a => TlsNames.IsGrease(a) || !Crypto.HasSignatureAndHashAlgorithm(SignatureAndHashAlgorithm.GetInstance((short)(a >> 8), (short)(a & 0xff)))).Select(a => $"signature algorithm {TlsNames.SignatureScheme(a)}"));
        return algorithms.Count > 0 ? algorithms : base.GetSupportedSignatureAlgorithms();
    }

    protected override IList<ProtocolName>? GetProtocolNames() =>
        Mirror is { Alpn.Count: > 0 } hello ? [.. hello.Alpn.Select(ProtocolName.AsUtf8Encoding)] : null;

    public override bool ShouldUseExtendedMasterSecret() => Mirror?.OffersExtendedMasterSecret ?? base.ShouldUseExtendedMasterSecret();

    // TLS 1.3 middlebox compatibility (a legacy session id) exactly when the sender used it.
    public override bool ShouldUseCompatibilityMode() => Mirror is { } hello ? hello.SessionIdLength > 0 : base.ShouldUseCompatibilityMode();

    public override IDictionary<int, byte[]> GetClientExtensions()
    {
        var extensions = base.GetClientExtensions();
        if (Mirror is { } hello)
        {
            // Extensions the engine adds by default are sent only if the sender sent them too.
            foreach (var type in new[] { ExtensionType.encrypt_then_mac, ExtensionType.status_request })
            {
                if (!hello.Extensions.Contains(type))
                {
                    extensions.Remove(type);
                }
            }

            if (hello.AttemptsPskResumption)
            {
                NotOfferedUpstream.Add("pre_shared_key (the sender tried to resume a TLS 1.3 session SmtpLens never saw; a full handshake replaced it)");
            }

            if (hello.OffersEarlyData)
            {
                NotOfferedUpstream.Add("early_data (0-RTT)");
            }

            NotOfferedUpstream.AddRange(hello.Extensions.Where(TlsNames.IsGrease).Distinct().Select(_ => "GREASE extension"));
        }

        return extensions;
    }

    public override void NotifyServerVersion(ProtocolVersion serverVersion)
    {
        base.NotifyServerVersion(serverVersion);
        SelectedVersion = serverVersion.FullVersion;
    }

    protected override IList<ServerName>? GetSniServerNames() =>
        !string.IsNullOrEmpty(serverName) && !System.Net.IPAddress.TryParse(serverName, out _)
            ? [new ServerName(NameType.host_name, System.Text.Encoding.ASCII.GetBytes(serverName))]
            : null;

    // The proxy records the upstream's certificate; it does not judge it by its signature algorithm.
    public override bool ShouldCheckSigAlgOfPeerCerts() => false;

    // Nor its DH group: Postfix, for one, sends its own built-in 2048-bit prime, not a named RFC 7919 group.
    public override TlsDHGroupVerifier GetDHGroupVerifier() => new AnyNamedOrUnnamedDHGroup();

    public override void NotifySelectedCipherSuite(int selectedCipherSuite)
    {
        base.NotifySelectedCipherSuite(selectedCipherSuite);
        SelectedCipherSuite = selectedCipherSuite;
    }

    public override TlsAuthentication GetAuthentication() => new Authentication(this);

    public override void NotifySecureRenegotiation(bool secureRenegotiation) => _events.Record.SecureRenegotiation = secureRenegotiation;

    public override void NotifyAlertRaised(short alertLevel, short alertDescription, string message, Exception cause) =>
        _events.AlertRaised(alertLevel, alertDescription, message ?? cause?.Message);

    public override void NotifyAlertReceived(short alertLevel, short alertDescription) => _events.AlertReceived(alertLevel, alertDescription);

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        _events.Completed(m_context);
    }

    private sealed class Authentication(UpstreamTlsClient owner) : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate) => owner.ServerCertificate(serverCertificate.Certificate);

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest)
        {
            owner._events.Record.ClientCertificateRequested = true;
            var identity = owner._clientIdentitySource is { } source ? source() : owner._clientIdentity;
            if (identity is not { } id)
            {
                return null;
            }

            var context = owner.m_context;
            var tls13 = TlsUtilities.IsTlsV13(context);
            var algorithms = certificateRequest.SupportedSignatureAlgorithms?.ToList();
            SignatureAndHashAlgorithm? algorithm;
            if (tls13)
            {
                algorithm = algorithms?.FirstOrDefault(a => id.IsEc ? a.Signature == SignatureAlgorithm.ecdsa : a.Signature is SignatureAlgorithm.rsa_pss_rsae_sha256 or SignatureAlgorithm.rsa_pss_rsae_sha384 or SignatureAlgorithm.rsa_pss_rsae_sha512);
                if (algorithm is null)
                {
                    // Sending a certificate the upstream cannot verify would fail the handshake; send none instead.
                    return null;
                }
            }
            else
            {
                var (type, signature) = id.IsEc ? (ClientCertificateType.ecdsa_sign, SignatureAlgorithm.ecdsa) : (ClientCertificateType.rsa_sign, SignatureAlgorithm.rsa);
                if (certificateRequest.CertificateTypes is not { } types || !types.Contains(type))
                {
                    return null;
                }

                algorithm = algorithms?.FirstOrDefault(a => a.Signature == signature && a.Hash is >= HashAlgorithm.sha256 and <= HashAlgorithm.sha512)
                    ?? algorithms?.FirstOrDefault(a => a.Signature == signature && a.Hash is >= HashAlgorithm.sha1 and <= HashAlgorithm.sha512);
            }

            owner.PresentedIdentity = id;
            var certificate = id.ToCertificate(owner._crypto, tls13 ? certificateRequest.GetCertificateRequestContext() : null);
            return FrameworkSigner.Credentials(context, owner._crypto, id, certificate, algorithm);
        }
    }

    private void ServerCertificate(BcCertificate certificate) => serverCertificate(certificate);

    /// <summary>Any DH group of at least the engine's minimum size (2048 bits), named or not.</summary>
    private sealed class AnyNamedOrUnnamedDHGroup : DefaultTlsDHGroupVerifier
    {
        protected override bool CheckGroup(DHGroup dhGroup) => true;
    }
}
