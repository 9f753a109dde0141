using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Connectors;

/// <summary><c>proxy --connectors FILE</c>: the offline <see cref="ConnectorSelection"/> run live over every session of
/// the run. Each session records which connector would select its sender (a <c>connector</c> event at its end, and its
/// summary), and CONNECTOR_WILDCARD_OVERLAP is raised in the session whose client certificate makes a wildcard match a
/// further distinct sending host.</summary>
/// <remarks>Shared by all sessions. Session handlers run under their own transcript's lock; the watch's lock is taken
/// inside it and only ever records into the session that called, so two sessions cannot wait on each other.</remarks>
internal sealed class ConnectorWatch(IReadOnlyList<InboundConnector> connectors)
{
    /// <summary>The transcript event kind of a session's selection.</summary>
    public const string EventKind = "connector";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, ConnectorSender> _senders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _hostsReported = new(StringComparer.Ordinal);

    public IReadOnlyList<InboundConnector> Connectors => connectors;

    /// <summary>Follows one session; its selection is known once its disconnect event has been recorded.</summary>
    public SessionConnector Attach(SessionTranscript transcript, SessionFindings findings) => new(this, transcript, findings);

    /// <summary>Takes in a sender whose certificate is now known; returns the overlap findings it completes, each
    /// naming every host matched so far (the last one raised agrees with <c>smtplens connectors</c>).</summary>
    internal IReadOnlyList<Finding> Observe(ConnectorSender sender)
    {
        lock (_gate)
        {
            _senders[sender.Session] = sender;
            var found = new List<Finding>();
            foreach (var overlap in ConnectorSelection.Overlaps(connectors, [.. _senders.Values]))
            {
                var name = EventFields.Text(overlap.Facts, "connector") ?? string.Empty;
                var hosts = overlap.Facts.TryGetValue("hosts", out var h) && h is IReadOnlyCollection<string?> list ? list.Count : 0;
                if (_hostsReported.GetValueOrDefault(name) < hosts && hosts > 1)
                {
                    _hostsReported[name] = hosts;
                    found.Add(overlap);
                }
            }

            return found;
        }
    }
}

/// <summary>One session under <see cref="ConnectorWatch"/>.</summary>
internal sealed class SessionConnector
{
    private readonly ConnectorWatch _watch;
    private readonly SessionTranscript _transcript;
    private readonly SessionFindings _findings;
    private readonly List<TranscriptEvent> _events = [];
    private bool _certificateSeen;

    public SessionConnector(ConnectorWatch watch, SessionTranscript transcript, SessionFindings findings)
    {
        _watch = watch;
        _transcript = transcript;
        _findings = findings;
        transcript.EventRecorded += OnEventRecorded;
    }

    /// <summary>The connector that would select this session's sender, and why; null until the session has ended.</summary>
    public ConnectorMatch? Selection { get; private set; }

    /// <summary>The summary line: <c>inbound connector "X" (OnPremises): reason</c>.</summary>
    public string? Describe() => Selection is not { } m ? null
        : m.Connector is null ? $"inbound connector: none ({m.Reason})"
        : $"inbound connector \"{m.Connector.Name}\" ({m.Connector.Type}): {m.Reason}" + (m.AlsoMatching.Count > 0 ? $"; also matching {string.Join(", ", m.AlsoMatching.Select(c => $"\"{c.Name}\""))}" : string.Empty);

    private void OnEventRecorded(TranscriptEvent e)
    {
        // Only what ConnectorSender reads: the connect event, commands and TLS legs, not message bodies.
        if (e.Kind is EventKinds.Connect or EventKinds.Command or EventKinds.TlsHandshake or EventKinds.TlsFailed)
        {
            _events.Add(e);
        }

        if (!_certificateSeen && TlsLegData.From(e) is { OfferIsSenders: true } leg && EventFields.Maps(leg.Data, "clientCertificates").Any())
        {
            _certificateSeen = true;
            foreach (var overlap in _watch.Observe(ConnectorSender.From(e.Session, _events)))
            {
                _findings.Add(overlap with { Session = e.Session, At = FindingEngine.Millisecond(e.Timestamp) });
            }
        }

        if (e.Kind == EventKinds.Disconnect)
        {
            var sender = ConnectorSender.From(e.Session, _events);
            var match = ConnectorSelection.Select(_watch.Connectors, sender);
            Selection = match;
            _transcript.Record(Direction.Proxy, ConnectorWatch.EventKind, Describe()!, new Dictionary<string, object?>
            {
                ["connector"] = match.Connector?.Name,
                ["connectorType"] = match.Connector?.Type.ToString(),
                ["reason"] = match.Reason,
                ["alsoMatching"] = match.AlsoMatching.Select(c => c.Name).ToList(),
                ["certificateNames"] = sender.CertificateNames,
                ["address"] = sender.Address?.ToString(),
                ["mailFromDomain"] = sender.MailFromDomain,
            });
        }
    }
}
