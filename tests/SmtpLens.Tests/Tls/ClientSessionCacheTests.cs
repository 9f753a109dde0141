using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using SmtpLens.Tests.Support;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

/// <summary>The client-leg session cache: what it resumes, for how long, how many, and under which binding.</summary>
public sealed class ClientSessionCacheTests
{
    private static readonly BcTlsCrypto Crypto = new(new SecureRandom());

    // Its own CA: the shared test CA's forge counter is asserted by tests that run in parallel with these.
    private static readonly Lazy<CertificateAuthority> OwnCa = new(() => CertificateAuthority.CreateEphemeral(new FakeTimeProvider(TlsTestCertificates.Now)));

    private static CertificateAuthority Ours => OwnCa.Value;

    private static TlsIdentity Forged(string name, int validDays = 80) =>
        Ours.ForgeFor(TlsTestCertificates.Der(TlsTestCertificates.Upstream.Issue(name, [name], TlsTestCertificates.Now.AddDays(-10), TlsTestCertificates.Now.AddDays(validDays))), name, ecdsa: true);

    private static TlsSession Session(byte id) =>
        TlsUtilities.ImportSession(
            Enumerable.Repeat(id, 32).ToArray(),
            new SessionParameters.Builder()
                .SetCipherSuite(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
                .SetExtendedMasterSecret(true)
                .SetMasterSecret(Crypto.CreateSecret(Enumerable.Repeat(id, 48).ToArray()))
                .SetNegotiatedVersion(ProtocolVersion.TLSv12)
                .Build());

    [Fact]
    public void Find_Resumes_Only_Under_The_Binding_The_Session_Was_Made_Under()
    {
        var time = new FakeTimeProvider(TlsTestCertificates.Now);
        var cache = new ClientSessionCache(time);
        var identity = Forged("mx.a.test");
        var binding = ClientSessionCache.Binding("192.0.2.10", "mx.a.test", identity);
        var session = Session(1);
        cache.Add(session, binding, TlsTestCertificates.Now.AddDays(80));

        Assert.Same(session, cache.Find(session.SessionID, binding));
        Assert.Same(session, cache.Find(session.SessionID, ClientSessionCache.Binding("192.0.2.10", "mx.a.test", identity)));

        // Another upstream, another requested name, another forged certificate (even for the same name): full handshake.
        Assert.Null(cache.Find(session.SessionID, ClientSessionCache.Binding("192.0.2.11", "mx.a.test", identity)));
        Assert.Null(cache.Find(session.SessionID, ClientSessionCache.Binding("192.0.2.10", "mx.b.test", identity)));
        Assert.Null(cache.Find(session.SessionID, ClientSessionCache.Binding("192.0.2.10", "mx.a.test", Forged("mx.b.test"))));
        Assert.Null(cache.Find(session.SessionID, ClientSessionCache.Binding("192.0.2.10", "mx.a.test", Forged("mx.a.test", validDays: 81))));

        // The session stays for its own binding after a mismatch, and unknown or empty IDs find nothing.
        Assert.Same(session, cache.Find(session.SessionID, binding));
        Assert.Null(cache.Find(Session(2).SessionID, binding));
        Assert.Null(cache.Find([], binding));
    }

    [Fact]
    public void A_Session_Expires_After_The_Lifetime_And_Its_Master_Secret_Is_Destroyed()
    {
        var time = new FakeTimeProvider(TlsTestCertificates.Now);
        var cache = new ClientSessionCache(time, lifetime: TimeSpan.FromMinutes(5));
        var session = Session(3);
        cache.Add(session, "b", TlsTestCertificates.Now.AddDays(80));

        time.Advance(TimeSpan.FromMinutes(4.9));
        Assert.Same(session, cache.Find(session.SessionID, "b"));
        time.Advance(TimeSpan.FromMinutes(0.2));
        Assert.Null(cache.Find(session.SessionID, "b"));
        Assert.Equal(0, cache.Count);
        Assert.False(session.IsResumable);
        Assert.False(session.ExportSessionParameters().MasterSecret.IsAlive());
    }

    [Fact]
    public void A_Session_Never_Outlives_The_Certificate_It_Was_Made_With()
    {
        var time = new FakeTimeProvider(TlsTestCertificates.Now);
        var cache = new ClientSessionCache(time, lifetime: TimeSpan.FromMinutes(10));
        var session = Session(4);
        cache.Add(session, "b", TlsTestCertificates.Now.AddMinutes(2));

        time.Advance(TimeSpan.FromMinutes(1.9));
        Assert.Same(session, cache.Find(session.SessionID, "b"));
        time.Advance(TimeSpan.FromMinutes(0.2));
        Assert.Null(cache.Find(session.SessionID, "b"));

        // A certificate already expired: nothing is kept.
        var late = Session(5);
        cache.Add(late, "b", time.GetUtcNow());
        Assert.Null(cache.Find(late.SessionID, "b"));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void The_Cap_Evicts_The_Oldest_Session_First()
    {
        var time = new FakeTimeProvider(TlsTestCertificates.Now);
        var cache = new ClientSessionCache(time, capacity: 3);
        var sessions = Enumerable.Range(10, 5).Select(i => Session((byte)i)).ToList();
        foreach (var session in sessions)
        {
            cache.Add(session, "b", TlsTestCertificates.Now.AddDays(80));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(3, cache.Count);
        Assert.Null(cache.Find(sessions[0].SessionID, "b"));
        Assert.Null(cache.Find(sessions[1].SessionID, "b"));
        Assert.False(sessions[0].ExportSessionParameters().MasterSecret.IsAlive());
        Assert.All(sessions.Skip(2), s => Assert.Same(s, cache.Find(s.SessionID, "b")));
    }

    [Fact]
    public void An_Invalidated_Session_Is_Not_Resumed()
    {
        // BouncyCastle invalidates a session that ended with a fatal alert.
        var cache = new ClientSessionCache(new FakeTimeProvider(TlsTestCertificates.Now));
        var session = Session(6);
        cache.Add(session, "b", TlsTestCertificates.Now.AddDays(80));
        session.Invalidate();

        Assert.Null(cache.Find(session.SessionID, "b"));
        Assert.Equal(0, cache.Count);
    }
}
