using System.Collections;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;
using BcCertificate = Org.BouncyCastle.Crypto.Tls.Certificate;

namespace SmtpLens.Tls;

/// <summary>A certificate chain and its private key, in BouncyCastle's types.</summary>
internal sealed record TlsIdentity(BcCertificate Chain, AsymmetricKeyParameter PrivateKey)
{
    /// <param name="chainDer">Leaf first.</param>
    /// <param name="pkcs8">The leaf's private key, PKCS#8 DER.</param>
    public static TlsIdentity From(IEnumerable<byte[]> chainDer, byte[] pkcs8) =>
        new(ToBouncy(chainDer), PrivateKeyFactory.CreateKey(pkcs8));

    public static BcCertificate ToBouncy(IEnumerable<byte[]> chainDer) =>
        new([.. chainDer.Select(d => X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(d)))]);
}

/// <summary>Callbacks shared by the two BouncyCastle peers: alerts, completion, key material.</summary>
internal sealed class TlsPeerEvents(TlsLegRecord record, TimeProvider time)
{
    private readonly long _started = time.GetTimestamp();

    public TlsLegRecord Record => record;

    public bool HandshakeComplete { get; private set; }

    /// <summary>Receives (client random, master secret) for the NSS key log.</summary>
    public Action<byte[], byte[]>? KeyMaterial { get; init; }

    /// <summary>Alerts after the handshake (renegotiation, close_notify) are reported as they happen.</summary>
    public Action<TlsAlertEvent>? AfterHandshakeAlert { get; set; }

    /// <summary>Set when the leg must end: SmtpLens refused a renegotiation attempt.</summary>
    public string? AbortReason { get; private set; }

    public void AlertRaised(byte level, byte description, string? message) =>
        Add(new TlsAlertEvent(new TlsAlert(level, description), TlsSide.SmtpLens, !HandshakeComplete, time.GetUtcNow(), message));

    public void AlertReceived(byte level, byte description) =>
        Add(new TlsAlertEvent(new TlsAlert(level, description), TlsSide.Peer, !HandshakeComplete, time.GetUtcNow(), null));

    private void Add(TlsAlertEvent alert)
    {
        record.AddAlert(alert);
        if (!HandshakeComplete)
        {
            return;
        }

        if (alert.RaisedBy == TlsSide.SmtpLens && alert.Alert.Description is AlertDescription.no_renegotiation or AlertDescription.handshake_failure or AlertDescription.unexpected_message)
        {
            AbortReason = $"{record.Leg} leg: TLS renegotiation attempt refused ({alert.Alert} sent); session ended";
        }

        AfterHandshakeAlert?.Invoke(alert);
    }

    public void Completed(TlsContext context)
    {
        var parameters = context.SecurityParameters;
        record.Version = context.ServerVersion.FullVersion;
        record.CipherSuite = parameters.CipherSuite;
        record.ExtendedMasterSecret = parameters.IsExtendedMasterSecret;
        record.Duration = time.GetElapsedTime(_started);
        record.Completed = true;
        KeyMaterial?.Invoke((byte[])parameters.ClientRandom.Clone(), (byte[])parameters.MasterSecret.Clone());
        HandshakeComplete = true;
    }

    public static IEnumerable<byte[]> Der(BcCertificate? chain) =>
        chain is null || chain.IsEmpty ? [] : chain.GetCertificateList().Select(c => c.GetEncoded());
}

/// <summary>SmtpLens as the TLS server on the client leg, presenting a forged or configured certificate.</summary>
/// <param name="clientCertificateSeen">Receives the client's chain (DER, leaf first; empty when it sent none).</param>
internal sealed class InterceptingTlsServer(TlsPolicy policy, TlsIdentity identity, bool requestClientCertificate, int? preferredSuite, TlsPeerEvents events, Action<IReadOnlyList<byte[]>>? clientCertificateSeen = null)
    : DefaultTlsServer(FrameworkCipherFactory.Instance)
{
    protected override ProtocolVersion MinimumVersion => TlsPolicy.ToBouncy(policy.MinimumVersion);

    protected override ProtocolVersion MaximumVersion => TlsPolicy.ToBouncy(policy.MaximumVersion);

    protected override int[] GetCipherSuites()
    {
        // Only suites our certificate can serve: an ECDSA upstream's suite is useless with an RSA forgery.
        var ec = identity.PrivateKey is Org.BouncyCastle.Crypto.Parameters.ECPrivateKeyParameters;
        var suites = policy.CipherSuites.Where(s => TlsNames.CipherSuite(s).Contains("_ECDSA_", StringComparison.Ordinal) == ec).ToList();

        // Prefer what the upstream chose, so the client leg looks like the real server where it can.
        if (preferredSuite is { } p && suites.Remove(p))
        {
            suites.Insert(0, p);
        }

        return [.. suites];
    }

    protected override TlsSignerCredentials GetRsaSignerCredentials()
    {
        SignatureAndHashAlgorithm? chosen = null;
        if (mSupportedSignatureAlgorithms is { } algorithms)
        {
            chosen = algorithms.Cast<SignatureAndHashAlgorithm>().FirstOrDefault(a => a.Signature == SignatureAlgorithm.rsa && a.Hash >= HashAlgorithm.sha256)
                ?? algorithms.Cast<SignatureAndHashAlgorithm>().FirstOrDefault(a => a.Signature == SignatureAlgorithm.rsa);
        }
        else if (TlsUtilities.IsTlsV12(mContext))
        {
            chosen = new SignatureAndHashAlgorithm(HashAlgorithm.sha1, SignatureAlgorithm.rsa);
        }

        return new DefaultTlsSignerCredentials(mContext, identity.Chain, identity.PrivateKey, chosen);
    }

    protected override TlsEncryptionCredentials GetRsaEncryptionCredentials() =>
        new DefaultTlsEncryptionCredentials(mContext, identity.Chain, identity.PrivateKey);

    public override CertificateRequest? GetCertificateRequest()
    {
        if (!requestClientCertificate)
        {
            return null;
        }

        events.Record.ClientCertificateRequested = true;
        IList? algorithms = null;
        if (TlsUtilities.IsTlsV12(mContext))
        {
            algorithms = new ArrayList
            {
                new SignatureAndHashAlgorithm(HashAlgorithm.sha256, SignatureAlgorithm.rsa),
                new SignatureAndHashAlgorithm(HashAlgorithm.sha256, SignatureAlgorithm.ecdsa),
                new SignatureAndHashAlgorithm(HashAlgorithm.sha384, SignatureAlgorithm.ecdsa),
                new SignatureAndHashAlgorithm(HashAlgorithm.sha1, SignatureAlgorithm.rsa),
            };
        }

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

    public override void NotifyAlertRaised(byte alertLevel, byte alertDescription, string message, Exception cause) =>
        events.AlertRaised(alertLevel, alertDescription, message ?? cause?.Message);

    public override void NotifyAlertReceived(byte alertLevel, byte alertDescription) => events.AlertReceived(alertLevel, alertDescription);

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        events.Completed(mContext);
    }
}

/// <summary>SmtpLens as the TLS client on the upstream leg.</summary>
/// <param name="clientIdentitySource">Decides the client certificate when the upstream asks, overriding
/// <paramref name="clientIdentity"/>; it may block until the sending MTA's own certificate is known.</param>
internal sealed class UpstreamTlsClient(TlsPolicy policy, string? serverName, TlsIdentity? clientIdentity, Action<BcCertificate> serverCertificate, TlsPeerEvents events, Func<TlsIdentity?>? clientIdentitySource = null)
    : DefaultTlsClient(FrameworkCipherFactory.Instance)
{
    private readonly TlsIdentity? _clientIdentity = clientIdentity;
    private readonly Func<TlsIdentity?>? _clientIdentitySource = clientIdentitySource;
    private readonly TlsPeerEvents _events = events;

    /// <summary>The suite the server chose, known once its ServerHello is processed.</summary>
    public int? SelectedCipherSuite => mContext?.SecurityParameters is { CipherSuite: > 0 } p ? p.CipherSuite : null;

    /// <summary>The certificate SmtpLens presented upstream, if any.</summary>
    public TlsIdentity? PresentedIdentity { get; private set; }

    public override ProtocolVersion ClientVersion => TlsPolicy.ToBouncy(policy.MaximumVersion);

    public override ProtocolVersion MinimumVersion => TlsPolicy.ToBouncy(policy.MinimumVersion);

    public override int[] GetCipherSuites() => [.. policy.CipherSuites];

    public override IDictionary GetClientExtensions()
    {
        var extensions = TlsExtensionsUtilities.EnsureExtensionsInitialised(base.GetClientExtensions());
        if (!string.IsNullOrEmpty(serverName) && !System.Net.IPAddress.TryParse(serverName, out _))
        {
            TlsExtensionsUtilities.AddServerNameExtension(extensions, new ServerNameList(new ArrayList { new ServerName(NameType.host_name, serverName) }));
        }

        return extensions;
    }

    public override TlsAuthentication GetAuthentication() => new Authentication(this);

    public override void NotifySecureRenegotiation(bool secureRenegotiation) => _events.Record.SecureRenegotiation = secureRenegotiation;

    public override void NotifyAlertRaised(byte alertLevel, byte alertDescription, string message, Exception cause) =>
        _events.AlertRaised(alertLevel, alertDescription, message ?? cause?.Message);

    public override void NotifyAlertReceived(byte alertLevel, byte alertDescription) => _events.AlertReceived(alertLevel, alertDescription);

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        _events.Completed(mContext);
    }

    private sealed class Authentication(UpstreamTlsClient owner) : TlsAuthentication
    {
        public void NotifyServerCertificate(BcCertificate serverCertificate) => owner.ServerCertificate(serverCertificate);

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest)
        {
            owner._events.Record.ClientCertificateRequested = true;
            var identity = owner._clientIdentitySource is { } source ? source() : owner._clientIdentity;
            if (identity is not { } id)
            {
                return null;
            }

            var ec = id.PrivateKey is Org.BouncyCastle.Crypto.Parameters.ECPrivateKeyParameters;
            var (type, signature) = ec ? (ClientCertificateType.ecdsa_sign, SignatureAlgorithm.ecdsa) : (ClientCertificateType.rsa_sign, SignatureAlgorithm.rsa);
            if (!certificateRequest.CertificateTypes.Contains(type))
            {
                // Sending a certificate the upstream cannot accept would fail the handshake; send none instead.
                return null;
            }

            var algorithms = certificateRequest.SupportedSignatureAlgorithms?.Cast<SignatureAndHashAlgorithm>().ToList();
            var algorithm = algorithms?.FirstOrDefault(a => a.Signature == signature && a.Hash >= HashAlgorithm.sha256)
                ?? algorithms?.FirstOrDefault(a => a.Signature == signature);
            owner.PresentedIdentity = id;
            return new DefaultTlsSignerCredentials(owner.mContext, id.Chain, id.PrivateKey, algorithm);
        }
    }

    private void ServerCertificate(BcCertificate certificate) => serverCertificate(certificate);
}
