using SmtpLens.Tls;
using SmtpLens.Tls.Revocation;
using SmtpLens.Transcripts;

namespace SmtpLens.Relay;

/// <summary>One session's <c>--check-revocation</c>: the peers' chains are checked on the thread pool, never on the relay
/// path, and each certificate's result is recorded as a <c>revocation</c> event when it arrives (the finding engine turns
/// it into findings). Results that arrive after the session ended follow its summary in the same transcript, which the
/// session leaves open until they are in (<see cref="Settled"/>).</summary>
internal sealed class SessionRevocation(RevocationChecker checker, SessionTranscript transcript)
{
    private readonly Lock _gate = new();
    private readonly List<Task> _pending = [];
    private readonly List<CertificateRevocation> _results = [];
    private readonly HashSet<string> _started = new(StringComparer.Ordinal);

    /// <summary>Completes when every check started so far has recorded its result.</summary>
    public Task Settled
    {
        get
        {
            lock (_gate)
            {
                return Task.WhenAll(_pending);
            }
        }
    }

    /// <summary>The results in so far, for policy verdicts and the summary.</summary>
    public IReadOnlyList<CertificateRevocation> Results
    {
        get
        {
            lock (_gate)
            {
                return [.. _results];
            }
        }
    }

    /// <summary>For the policy verdicts (Exchange's "reachable CRL" rule): waits for the checks, at most
    /// <paramref name="bound"/>, then says what the server chain's CRLs said; whatever is still out counts as unanswered.</summary>
    public async Task<Policy.RevocationObservation> ForPoliciesAsync(TimeSpan bound, TimeProvider time, CancellationToken cancellationToken)
    {
        var settled = Settled;
        try
        {
            await settled.WaitAsync(bound, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The verdict says the CRL did not answer in time; the late results still follow the summary.
        }

        return Policy.RevocationObservation.FromChecks(Results, settled.IsCompleted, bound);
    }

    /// <summary>The summary's lines: one per certificate checked, and how many are still out.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                var lines = _results.Select(r => r.Describe()).ToList();
                var outstanding = _pending.Count(t => !t.IsCompleted);
                if (outstanding > 0)
                {
                    lines.Add($"{outstanding} check(s) still waiting for an answer; their results follow this summary in the transcript");
                }

                return lines;
            }
        }
    }

    /// <summary>Starts the checks of the chains the peers presented on this leg; SmtpLens's own certificates (the forged
    /// one on the client leg, its client certificate upstream) are not checked.</summary>
    public void Check(TlsLegRecord leg)
    {
        if (leg.Leg is "upstream" or "passthrough")
        {
            Start(leg.Leg, Ders(leg.ServerCertificates));
        }

        if (leg.Leg is "client" or "passthrough")
        {
            Start("client", Ders(leg.ClientCertificates));
        }
    }

    private static List<byte[]> Ders(List<CertificateSummary> certificates) => [.. certificates.Select(c => c.Der).OfType<byte[]>()];

    private void Start(string leg, List<byte[]> chain)
    {
        if (chain.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            if (!_started.Add(leg + ":" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(chain[0]))))
            {
                return;
            }

            _pending.Add(Task.Run(() => RunAsync(leg, chain)));
        }
    }

    private async Task RunAsync(string leg, List<byte[]> chain)
    {
        foreach (var result in await checker.CheckChainAsync(leg, chain).ConfigureAwait(false))
        {
            lock (_gate)
            {
                _results.Add(result);
            }

            transcript.Record(Direction.Proxy, CertificateRevocation.EventKind, "revocation " + result.Describe(), result.ToData());
        }
    }
}
