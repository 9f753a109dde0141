using System.Security.Cryptography;
using Org.BouncyCastle.Tls;

namespace SmtpLens.Tls;

/// <summary>Client-leg TLS 1.2 sessions SmtpLens can resume by session ID (RFC 5246 7.4.1.2): bounded, short-lived,
/// and each tied to the upstream and the forged certificate it was established with.</summary>
/// <remarks>BouncyCastle 2.7 resumes TLS 1.2 sessions on the server side only through a session ID; it has no TLS 1.3
/// server resumption (TlsServerProtocol.Generate13ServerHello: "Currently no server support for session resumption").
/// The master secrets stay in memory only; an evicted session's secret is destroyed.</remarks>
internal sealed class ClientSessionCache(TimeProvider time, int capacity = ClientSessionCache.DefaultCapacity, TimeSpan? lifetime = null)
{
    public const int DefaultCapacity = 4096;

    /// <summary>Postfix's smtp_tls_session_cache_timeout defaults to an hour; a short lifetime keeps the window in
    /// which a stolen secret is useful small while still covering a sender's queue run.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(5);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _sessions = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly TimeSpan _lifetime = lifetime ?? DefaultLifetime;

    private sealed record Entry(TlsSession Session, string Binding, DateTimeOffset Expires);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>What a session is tied to: the upstream it reached, the name the client asked for, and the
    /// certificate SmtpLens presented. A client resumes only into the same three, so it never skips seeing the
    /// certificate of a different upstream.</summary>
    public static string Binding(string upstream, string? serverName, TlsIdentity identity) =>
        $"{upstream}\n{serverName}\n{Convert.ToHexString(SHA256.HashData(identity.ChainDer[0]))}";

    /// <summary>A fresh random session ID for a full handshake.</summary>
    public static byte[] NewSessionId() => RandomNumberGenerator.GetBytes(32);

    /// <summary>The live session the client offered, if it was established under the same binding; null otherwise.</summary>
    public TlsSession? Find(byte[]? sessionId, string binding)
    {
        if (sessionId is not { Length: > 0 })
        {
            return null;
        }

        var key = Convert.ToHexString(sessionId);
        lock (_gate)
        {
            if (!_sessions.TryGetValue(key, out var entry))
            {
                return null;
            }

            if (entry.Expires <= time.GetUtcNow() || !entry.Session.IsResumable)
            {
                Remove(key, entry);
                return null;
            }

            return entry.Binding == binding ? entry.Session : null;
        }
    }

    /// <summary>Keeps a completed full handshake's session until the lifetime ends or the certificate expires, whichever is first.</summary>
    public void Add(TlsSession session, string binding, DateTimeOffset certificateNotAfter)
    {
        if (!session.IsResumable || session.SessionID is not { Length: > 0 } id)
        {
            return;
        }

        var now = time.GetUtcNow();
        var expires = now + _lifetime < certificateNotAfter ? now + _lifetime : certificateNotAfter;
        if (expires <= now)
        {
            return;
        }

        var key = Convert.ToHexString(id);
        lock (_gate)
        {
            PruneExpired(now);
            while (_sessions.Count >= capacity && _order.TryDequeue(out var oldest))
            {
                if (_sessions.TryGetValue(oldest, out var evicted))
                {
                    Remove(oldest, evicted);
                }
            }

            if (_sessions.TryGetValue(key, out var replaced))
            {
                Remove(key, replaced);
            }

            _sessions[key] = new Entry(session, binding, expires);
            _order.Enqueue(key);
        }
    }

    // Entries are queued in insertion order and most share one lifetime, so the expired ones gather at the head;
    // any other expired entry goes when it is next looked up or reaches the head.
    private void PruneExpired(DateTimeOffset now)
    {
        while (_order.TryPeek(out var head))
        {
            if (_sessions.TryGetValue(head, out var entry) && entry.Expires > now)
            {
                return;
            }

            _order.Dequeue();
            if (entry is not null)
            {
                Remove(head, entry);
            }
        }
    }

    private void Remove(string key, Entry entry)
    {
        _sessions.Remove(key);
        entry.Session.Invalidate();

        // Destroys the one master secret all copies of these parameters share; a handshake that already adopted it holds its own copy.
        entry.Session.ExportSessionParameters()?.Clear();
    }
}
