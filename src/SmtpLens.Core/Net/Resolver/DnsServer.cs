using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace SmtpLens.Net.Resolver;

/// <summary>One TLSA record (RFC 6698 2.1): usage, selector, matching type and the association data.</summary>
internal sealed record TlsaRecordData(int Usage, int Selector, int MatchingType, byte[] Data)
{
    public string Describe() => $"{Usage} {Selector} {MatchingType} {Convert.ToHexString(Data)}";
}

/// <summary>The answer to one query: the records a mail policy needs, the response code, and whether the resolver
/// vouched for it with the AD bit (RFC 4035 3.2.3; Postfix trusts DNSSEC this way, through its resolver).</summary>
internal sealed record DnsAnswer(string Name, string ResponseCode, bool Authentic, IPEndPoint Server)
{
    public const string NoError = "NOERROR";
    public const string NameError = "NXDOMAIN";

    public IReadOnlyList<MxRecord> Mx { get; init; } = [];

    /// <summary>Each TXT record's character strings joined, as RFC 8461 3.1 and RFC 7208 3.3 read them.</summary>
    public IReadOnlyList<string> Txt { get; init; } = [];

    public IReadOnlyList<TlsaRecordData> Tlsa { get; init; } = [];

    public IReadOnlyList<IPAddress> Addresses { get; init; } = [];

    /// <summary>NOERROR or NXDOMAIN: the name's records are known (possibly none).</summary>
    public bool Answered => ResponseCode is NoError or NameError;

    /// <summary>"127.0.0.1:5353 (AD set)": which resolver answered, and whether it validated.</summary>
    public string Source => $"{Server} ({(Authentic ? "AD set: DNSSEC-validated" : "AD not set: not validated")})";
}

/// <summary>Queries one DNS server (the user's validating resolver) through DnsClient.NET: UDP with EDNS0 and the DO bit,
/// TCP when the answer is truncated, no cache of its own (the resolver caches), AD bit reported per answer.</summary>
/// <remarks>DnsClient was chosen over ARSoft.Tools.Net: it parses TLSA and TXT, exposes the AD bit, falls back to TCP,
/// and has no dependencies on .NET 8+, whereas ARSoft pulls in ASP.NET Core and a second BouncyCastle (docs/policy.md).</remarks>
internal sealed class DnsServer
{
    private readonly LookupClient _client;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    public DnsServer(IPEndPoint endPoint, TimeSpan timeout, TimeProvider time)
    {
        EndPoint = endPoint;
        _timeout = timeout;
        _time = time;
        _client = new LookupClient(new LookupClientOptions(endPoint)
        {
            UseCache = false,
            RequestDnsSecRecords = true,
            UseTcpFallback = true,
            Recursion = true,
            Retries = 1,
            Timeout = timeout,
            ThrowDnsErrors = false,
            ContinueOnDnsError = false,
            ContinueOnEmptyResponse = false,
        });
    }

    public IPEndPoint EndPoint { get; }

    public async Task<DnsAnswer> QueryAsync(string name, QueryType type, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_timeout + _timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(name, type, QueryClass.IN, linked.Token);
        }
        catch (DnsResponseException e) when (e.Code == DnsResponseCode.ConnectionTimeout)
        {
            throw new TimeoutException($"DNS server {EndPoint} did not answer the {type} query for {name} within {_timeout.TotalSeconds:0.#} s");
        }
        catch (DnsResponseException e)
        {
            throw new IOException($"DNS server {EndPoint} failed the {type} query for {name}: {e.DnsError}", e);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"DNS server {EndPoint} did not answer the {type} query for {name} within {_timeout.TotalSeconds:0.#} s");
        }

        var answers = response.Answers;
        return new DnsAnswer(name, CodeName(response.Header.ResponseCode), response.Header.IsAuthenticData, EndPoint)
        {
            Mx = [.. answers.MxRecords().Select(m => new MxRecord(m.Preference, m.Exchange.Value.TrimEnd('.')))],
            Txt = [.. answers.TxtRecords().Select(t => string.Concat(t.Text))],
            Tlsa = [.. answers.TlsaRecords().Select(t => new TlsaRecordData((int)t.CertificateUsage, (int)t.Selector, (int)t.MatchingType, [.. t.CertificateAssociationData]))],
            Addresses = [.. answers.OfType<AddressRecord>().Select(a => a.Address)],
        };
    }

    private static string CodeName(DnsHeaderResponseCode code) => code switch
    {
        DnsHeaderResponseCode.NoError => DnsAnswer.NoError,
        DnsHeaderResponseCode.FormatError => "FORMERR",
        DnsHeaderResponseCode.ServerFailure => "SERVFAIL",
        DnsHeaderResponseCode.NotExistentDomain => DnsAnswer.NameError,
        DnsHeaderResponseCode.NotImplemented => "NOTIMP",
        DnsHeaderResponseCode.Refused => "REFUSED",
        var other => $"RCODE {(int)other}",
    };
}
