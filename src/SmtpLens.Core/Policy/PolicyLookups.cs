using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using DnsClient;
using SmtpLens.Net;
using SmtpLens.Net.Resolver;

namespace SmtpLens.Policy;

/// <summary>Where policy lookups go: the validating resolver, the MTA-STS fetch's trust and (for tests) its target.</summary>
internal sealed record PolicyLookupSettings
{
    /// <summary>--dns-resolver: the validating resolver whose AD bit is trusted. Null: the first resolv.conf nameserver.</summary>
    public IPEndPoint? Resolver { get; init; }

    /// <summary>--mta-sts-ca-file roots for the policy host's certificate; null: the system store.</summary>
    public IReadOnlyList<X509Certificate2>? MtaStsAnchors { get; init; }

    /// <summary>--mta-sts-connect: connect here instead of mta-sts.DOMAIN:443; the name sent and checked is unchanged.</summary>
    public HostPort? MtaStsConnect { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The DNS and HTTPS lookups DANE and MTA-STS need, off the relay's path; MTA-STS policies are cached per
/// domain for their max_age and refetched when the TXT id changes (RFC 8461 5.1).</summary>
internal sealed class PolicyLookups(PolicyLookupSettings settings, TimeProvider time)
{
    /// <summary>RFC 8461 3.3: a policy body is at most 64 KiB.</summary>
    private const int MaxPolicyBytes = 64 * 1024;

    private readonly ConcurrentDictionary<string, (MtaStsLookup Lookup, DateTimeOffset Expires)> _stsCache = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lazy<DnsServer> _dns = new(() => new DnsServer(settings.Resolver ?? SystemResolver(), settings.Timeout, time));

    /// <summary>How many policy fetches were made over HTTPS (the cache's effect, for tests and the log).</summary>
    public int Fetches => _fetches;

    private int _fetches;

    public string ResolverText => _dns.Value.EndPoint.ToString();

    /// <summary>RFC 7672 2.2: the MX host's address records must be DNSSEC-validated before TLSA is even asked for.</summary>
    public async Task<DaneLookup> DaneAsync(string mxHost, int port, CancellationToken cancellationToken)
    {
        var tlsaName = $"_{port}._tcp.{mxHost.TrimEnd('.')}";
        var resolver = ResolverText;
        try
        {
            if (!IsDomainName(mxHost))
            {
                return new DaneLookup(tlsaName, resolver, false, null, null);
            }

            var a = await _dns.Value.QueryAsync(mxHost, QueryType.A, cancellationToken);
            var aaaa = a.Addresses.Count > 0 ? null : await _dns.Value.QueryAsync(mxHost, QueryType.AAAA, cancellationToken);
            var address = aaaa is not null && aaaa.Addresses.Count > 0 ? aaaa : a;
            if (!address.Answered)
            {
                return new DaneLookup(tlsaName, resolver, false, null, $"{mxHost} address lookup answered {address.ResponseCode}");
            }

            if (!address.Authentic)
            {
                return new DaneLookup(tlsaName, resolver, false, null, null);
            }

            var tlsa = await _dns.Value.QueryAsync(tlsaName, QueryType.TLSA, cancellationToken);
            return tlsa.Answered
                ? new DaneLookup(tlsaName, resolver, true, tlsa, null)
                : new DaneLookup(tlsaName, resolver, true, tlsa, $"{tlsaName} TLSA lookup answered {tlsa.ResponseCode}");
        }
        catch (Exception e) when (e is TimeoutException or IOException or SocketException or FormatException)
        {
            return new DaneLookup(tlsaName, resolver, false, null, e.Message);
        }
    }

    /// <summary>The MTA-STS state of a domain: TXT first (always asked, to see a changed id), then the cached or fetched policy.</summary>
    public async Task<MtaStsLookup> MtaStsAsync(string domain, CancellationToken cancellationToken)
    {
        domain = domain.TrimEnd('.').ToLowerInvariant();
        var resolver = ResolverText;
        if (!IsDomainName(domain))
        {
            return new MtaStsLookup(domain, resolver, null, $"{domain} is not a domain name: nothing to look up", null, null);
        }

        DnsAnswer txt;
        try
        {
            txt = await _dns.Value.QueryAsync($"_mta-sts.{domain}", QueryType.TXT, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or IOException or SocketException or FormatException)
        {
            return new MtaStsLookup(domain, resolver, null, $"TXT lookup failed: {e.Message}", null, null);
        }

        var (id, problem) = MtaStsPolicy.ParseTxt(txt.Txt);
        var now = time.GetUtcNow();
        if (_stsCache.TryGetValue(domain, out var cached) && cached.Expires > now && (id is null || cached.Lookup.TxtId == id))
        {
            // RFC 8461 5.1: a cached policy stays in force until max_age, even if the TXT record disappears.
            return cached.Lookup with { FromCache = true };
        }

        if (id is null)
        {
            return new MtaStsLookup(domain, resolver, null, problem, null, null);
        }

        var lookup = await FetchAsync(domain, id, resolver, cancellationToken);
        if (lookup.Policy is { } policy)
        {
            _stsCache[domain] = (lookup, now.AddSeconds(policy.MaxAge));
        }

        return lookup;
    }

    private async Task<MtaStsLookup> FetchAsync(string domain, string id, string resolver, CancellationToken cancellationToken)
    {
        var host = $"mta-sts.{domain}";
        Interlocked.Increment(ref _fetches);
        using var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            ConnectTimeout = settings.Timeout,
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = host,
                RemoteCertificateValidationCallback = settings.MtaStsAnchors is { } anchors ? (_, cert, chain, errors) => ValidWithAnchors(cert, errors, anchors) : null,
            },
        };
        if (settings.MtaStsConnect is { } target)
        {
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(target.Host, target.Port, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        using var client = new HttpClient(handler) { Timeout = settings.Timeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"https://{host}/.well-known/mta-sts.txt");
        request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoCache = true };
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var where = response.Headers.Location is { } location ? $" to {location}" : string.Empty;
                return new MtaStsLookup(domain, resolver, id, null, null, $"GET https://{host}/.well-known/mta-sts.txt answered HTTP {(int)response.StatusCode}{where} (only 200 is accepted, no redirects)");
            }

            // RFC 8461 3.3: served as text/plain; parameters (charset) are allowed.
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (!string.Equals(mediaType, "text/plain", StringComparison.OrdinalIgnoreCase))
            {
                var served = mediaType is null ? "without a Content-Type" : $"as {mediaType}";
                return new MtaStsLookup(domain, resolver, id, null, null, $"the policy is served {served}, not text/plain (RFC 8461 3.3)") { PolicyInvalid = true };
            }

            var body = await ReadBoundedAsync(response.Content, cancellationToken);
            if (body is null)
            {
                return new MtaStsLookup(domain, resolver, id, null, null, $"the policy is larger than {MaxPolicyBytes} bytes") { PolicyInvalid = true };
            }

            var (policy, invalid) = MtaStsPolicy.Parse(body);
            return policy is null
                ? new MtaStsLookup(domain, resolver, id, null, null, $"invalid policy: {invalid}") { PolicyInvalid = true }
                : new MtaStsLookup(domain, resolver, id, null, policy, null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return new MtaStsLookup(domain, resolver, id, null, null, $"GET https://{host}/.well-known/mta-sts.txt failed: {Innermost(e)}");
        }
    }

    private static async Task<string?> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxPolicyBytes + 1];
        var total = 0;
        int n;
        while (total < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += n;
        }

        return total > MaxPolicyBytes ? null : System.Text.Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e.Message;
    }

    /// <summary>The policy host's certificate: the name check as usual, the chain against the given roots only.</summary>
    private static bool ValidWithAnchors(X509Certificate? certificate, SslPolicyErrors errors, IReadOnlyList<X509Certificate2> anchors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(anchors.ToArray());
        return chain.Build(leaf);
    }

    /// <summary>IP literals and localhost (RFC 6761 6.3) are never asked about: they have no TLSA or MTA-STS records.</summary>
    private static bool IsDomainName(string name) =>
        !IPAddress.TryParse(name.Trim('[', ']'), out _) && name.Contains('.', StringComparison.Ordinal)
        && !name.Equals("localhost", StringComparison.OrdinalIgnoreCase) && !name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    private static IPEndPoint SystemResolver()
    {
        var servers = File.Exists(ResolvConf.DefaultPath) ? ResolvConf.Parse(File.ReadAllText(ResolvConf.DefaultPath)) : [];
        return servers.Count > 0 ? servers[0] : new IPEndPoint(IPAddress.Loopback, 53);
    }
}
