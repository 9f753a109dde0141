using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace SmtpLens.Tls.Revocation;

/// <summary><c>--check-revocation</c>: fetches the CRLs and asks the OCSP responders that the certificates of a chain
/// name, over HTTP with a short timeout and a cache per URL (per URL and certificate for OCSP), so a busy relay asks
/// each CRL distribution point once per <see cref="CacheLifetime"/> however many sessions present the chain.</summary>
/// <remarks>Shared by every session of a run. It never throws: every failure becomes an unreachable source with its
/// reason. <see cref="Track"/> keeps work that outlives a session (its transcript closing after late results) so that
/// disposing waits for it.</remarks>
internal sealed class RevocationChecker : IAsyncDisposable
{
    private const int MaxDocumentBytes = 16 * 1024 * 1024;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Cached> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _tracked = new();

    public RevocationChecker(TimeProvider time, TimeSpan? timeout = null, HttpMessageHandler? handler = null)
    {
        _time = time;
        Timeout = timeout ?? TimeSpan.FromSeconds(5);

        // No proxy from the environment: the check must see what a receiver on this network sees.
        _http = new HttpClient(handler ?? new SocketsHttpHandler { UseProxy = false, ConnectTimeout = Timeout, AllowAutoRedirect = true, MaxAutomaticRedirections = 3 })
        {
            Timeout = Timeout,
            MaxResponseContentBufferSize = MaxDocumentBytes,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("SmtpLens-revocation-check");
    }

    public TimeSpan Timeout { get; }

    /// <summary>How long a session's policy verdicts wait for its checks after the session ended (Exchange's CRL rule);
    /// default: two requests one after the other (leaf, then intermediate) and a second to spare.</summary>
    public TimeSpan VerdictWait
    {
        get => _verdictWait ?? (Timeout * 2) + TimeSpan.FromSeconds(1);
        init => _verdictWait = value;
    }

    private readonly TimeSpan? _verdictWait;

    /// <summary>How long a fetched CRL or OCSP answer (or a failure) is reused.</summary>
    public TimeSpan CacheLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How many HTTP requests were made (tests: the cache works).</summary>
    public int Requests => _requests;

    private int _requests;

    /// <summary>Checks every certificate of <paramref name="chainDer"/> (leaf first) except self-issued roots.</summary>
    public async Task<IReadOnlyList<CertificateRevocation>> CheckChainAsync(string leg, IReadOnlyList<byte[]> chainDer, CancellationToken ct = default)
    {
        var results = new List<CertificateRevocation>();
        for (var i = 0; i < chainDer.Count; i++)
        {
            var der = chainDer[i];
            try
            {
                if (RevocationDocuments.SelfIssued(der) && i > 0)
                {
                    // A root is trusted as such; nobody publishes its revocation.
                    continue;
                }

                var issuer = i + 1 < chainDer.Count && RevocationDocuments.Issued(chainDer[i + 1], der) ? chainDer[i + 1] : null;
                results.Add(await CheckAsync(leg, i, der, issuer, ct).ConfigureAwait(false));
            }
            catch (FormatException e)
            {
                results.Add(new CertificateRevocation(leg, i, "(unreadable certificate)", string.Empty, string.Empty, [new RevocationSourceResult(RevocationSourceKind.Crl, "(none)", null, e.Message, RevocationStatus.Unknown, _time.GetUtcNow())]));
            }
        }

        return results;
    }

    /// <summary>One certificate: every CRL distribution point and OCSP responder it names, asked in parallel.</summary>
    /// <exception cref="FormatException">The certificate cannot be read.</exception>
    public async Task<CertificateRevocation> CheckAsync(string leg, int position, byte[] certificateDer, byte[]? issuerDer, CancellationToken ct = default)
    {
        var endpoints = RevocationDocuments.Endpoints(certificateDer);
        var (subject, issuerName, serial) = RevocationDocuments.Describe(certificateDer);
        var crls = endpoints.CrlUrls.Select(url => CrlAsync(url, certificateDer, issuerDer, ct));
        var ocsp = endpoints.OcspUrls.Select(url => OcspAsync(url, certificateDer, issuerDer, ct));
        var sources = await Task.WhenAll(crls.Concat(ocsp)).ConfigureAwait(false);
        return new CertificateRevocation(leg, position, subject, issuerName, serial, sources);
    }

    /// <summary>Keeps <paramref name="work"/> (a transcript closing after late results) until it ends; disposing waits for it.</summary>
    public void Track(Task work)
    {
        _tracked[work] = 0;
        _ = work.ContinueWith(t => _tracked.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Completes when all tracked work has ended.</summary>
    public Task IdleAsync() => Task.WhenAll(_tracked.Keys);

    public async ValueTask DisposeAsync()
    {
        await IdleAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _http.Dispose();
    }

    private async Task<RevocationSourceResult> CrlAsync(string url, byte[] certificateDer, byte[]? issuerDer, CancellationToken ct)
    {
        if (!IsHttp(url))
        {
            return new RevocationSourceResult(RevocationSourceKind.Crl, url, null, "only http and https distribution points are fetched", RevocationStatus.Unknown, _time.GetUtcNow());
        }

        var fetched = await FetchAsync(url, () => new HttpRequestMessage(HttpMethod.Get, url)).WaitAsync(ct).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        if (fetched.Failure is { } failure)
        {
            return new RevocationSourceResult(RevocationSourceKind.Crl, url, false, failure, RevocationStatus.Unknown, now);
        }

        try
        {
            return RevocationDocuments.CrlStatus(url, fetched.Body!, certificateDer, issuerDer, now);
        }
        catch (FormatException e)
        {
            return new RevocationSourceResult(RevocationSourceKind.Crl, url, false, e.Message, RevocationStatus.Unknown, now);
        }
    }

    private async Task<RevocationSourceResult> OcspAsync(string url, byte[] certificateDer, byte[]? issuerDer, CancellationToken ct)
    {
        if (!IsHttp(url) || issuerDer is null)
        {
            var why = issuerDer is null ? "the issuer's certificate is not in the chain, so no OCSP request can be made" : "only http and https responders are asked";
            return new RevocationSourceResult(RevocationSourceKind.Ocsp, url, null, why, RevocationStatus.Unknown, _time.GetUtcNow());
        }

        var request = RevocationDocuments.OcspRequest(certificateDer, issuerDer);
        var key = url + "#" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(request));
        var fetched = await FetchAsync(key, () => new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ByteArrayContent(request) { Headers = { ContentType = new MediaTypeHeaderValue("application/ocsp-request") } },
        }).WaitAsync(ct).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        if (fetched.Failure is { } failure)
        {
            return new RevocationSourceResult(RevocationSourceKind.Ocsp, url, false, failure, RevocationStatus.Unknown, now);
        }

        try
        {
            return RevocationDocuments.OcspStatus(url, fetched.Body!, certificateDer, issuerDer, now);
        }
        catch (FormatException e)
        {
            return new RevocationSourceResult(RevocationSourceKind.Ocsp, url, false, e.Message, RevocationStatus.Unknown, now);
        }
    }

    private static bool IsHttp(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>One request per key and cache lifetime; concurrent askers share it.</summary>
    private Task<Fetched> FetchAsync(string key, Func<HttpRequestMessage> request)
    {
        var now = _time.GetUtcNow();
        while (true)
        {
            if (_cache.TryGetValue(key, out var cached) && now - cached.Started < CacheLifetime)
            {
                return cached.Result.Task;
            }

            var fresh = new Cached(now, new TaskCompletionSource<Fetched>(TaskCreationOptions.RunContinuationsAsynchronously));
            if (cached is null ? _cache.TryAdd(key, fresh) : _cache.TryUpdate(key, fresh, cached))
            {
                _ = CompleteAsync(fresh.Result, request);
                return fresh.Result.Task;
            }
        }
    }

    private async Task CompleteAsync(TaskCompletionSource<Fetched> result, Func<HttpRequestMessage> request)
    {
        try
        {
            // Shared by every session asking: bounded by the timeout, not by any one session's lifetime.
            result.TrySetResult(await SendAsync(request, CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception e)
        {
            result.TrySetResult(new Fetched(null, e.Message));
        }
    }

    private async Task<Fetched> SendAsync(Func<HttpRequestMessage> create, CancellationToken ct)
    {
        Interlocked.Increment(ref _requests);
        using var request = create();
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return new Fetched(null, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            return new Fetched(await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false), null);
        }
        catch (HttpRequestException e)
        {
            return new Fetched(null, Reason(e));
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return new Fetched(null, $"no answer within {Timeout.TotalSeconds:0.#} s (timeout)");
        }
        catch (OperationCanceledException)
        {
            return new Fetched(null, "the check was cancelled");
        }
    }

    /// <summary>Why a receiver would not get the document either: DNS, refused, unreachable network, TLS.</summary>
    private static string Reason(HttpRequestException e) => e.InnerException switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } s => $"host name not resolved ({s.SocketErrorCode})",
        SocketException { SocketErrorCode: SocketError.NetworkUnreachable or SocketError.HostUnreachable } s => $"no route ({s.SocketErrorCode})",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "connect timed out",
        SocketException s => $"{s.SocketErrorCode}: {s.Message}",
        _ when e.HttpRequestError == HttpRequestError.ResponseEnded => "the server closed the connection without an answer",
        _ when e.StatusCode is HttpStatusCode code => $"HTTP {(int)code}",
        _ => e.Message,
    };

    private sealed record Cached(DateTimeOffset Started, TaskCompletionSource<Fetched> Result);

    private sealed record Fetched(byte[]? Body, string? Failure);
}
