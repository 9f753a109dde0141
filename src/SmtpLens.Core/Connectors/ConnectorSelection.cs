using System.Net;
using SmtpLens.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Connectors;

/// <summary>What a receiver sees of one sending session: its address, the certificate it presented, EHLO and MAIL FROM.</summary>
internal sealed record ConnectorSender(
    string Session,
    IPAddress? Address,
    string? Ehlo,
    string? MailFromDomain,
    string? CertificateSubject,
    IReadOnlyList<string> CertificateNames,
    TranscriptEvent? CertificateEvent)
{
    /// <summary>The sender as the transcript recorded it: the connect event's client (or PROXY-header) address, the
    /// client certificate of the client or passthrough leg, the first EHLO/HELO and MAIL FROM.</summary>
    public static ConnectorSender From(string session, IEnumerable<TranscriptEvent> events)
    {
        IPAddress? address = null;
        string? ehlo = null, mailFrom = null, subject = null;
        IReadOnlyList<string> names = [];
        TranscriptEvent? certificateEvent = null;
        foreach (var e in events)
        {
            if (e.Kind == EventKinds.Connect)
            {
                address ??= EndPointAddress(EventFields.Text(e.Data, "clientSeen")) ?? EndPointAddress(EventFields.Text(e.Data, "client"));
            }
            else if (e.Kind == EventKinds.Command)
            {
                var verb = (EventFields.Text(e.Data, "verb") ?? string.Empty).ToUpperInvariant();
                var parts = e.Text.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
                if (verb is "EHLO" or "HELO" && parts.Length >= 2)
                {
                    ehlo ??= parts[1];
                }
                else if (verb == "MAIL" && mailFrom is null)
                {
                    mailFrom = MailDomain(e.Text);
                }
            }
            else if (certificateEvent is null && TlsLegData.From(e) is { OfferIsSenders: true } leg && EventFields.Maps(leg.Data, "clientCertificates").FirstOrDefault() is { } cert)
            {
                certificateEvent = e;
                subject = EventFields.Text(cert, "subject");
                names = [.. CertificateDetector.Names(cert)];
            }
        }

        return new ConnectorSender(session, address, ehlo, mailFrom, subject, names, certificateEvent);
    }

    /// <summary>The host a receiver tells senders apart by: the certificate's names, else the address.</summary>
    public string HostKey => CertificateNames.Count > 0 ? string.Join(",", CertificateNames).ToLowerInvariant() : Address?.ToString() ?? Session;

    private static IPAddress? EndPointAddress(string? endPoint) =>
        endPoint is not null && IPEndPoint.TryParse(endPoint, out var ep) ? (ep.Address.IsIPv4MappedToIPv6 ? ep.Address.MapToIPv4() : ep.Address) : null;

    private static string? MailDomain(string line)
    {
        var lt = line.IndexOf('<', StringComparison.Ordinal);
        var gt = lt < 0 ? -1 : line.IndexOf('>', lt);
        var path = lt >= 0 && gt > lt ? line[(lt + 1)..gt] : null;
        var at = path?.LastIndexOf('@') ?? -1;
        return at > 0 ? path![(at + 1)..].ToLowerInvariant() : null;
    }
}

/// <summary>The connector a sender would land on, and why.</summary>
internal sealed record ConnectorMatch(ConnectorSender Sender, InboundConnector? Connector, string Reason, IReadOnlyList<InboundConnector> AlsoMatching);

/// <summary>Exchange Online's inbound connector selection, as Microsoft documents it (README, "Which inbound connector").</summary>
/// <remarks>OnPremises connectors are tried first, the certificate before the address: EOP attributes a message received
/// over an OnPremises connector by the domain of the TLS certificate the sender presented, and only then by IP.
/// TlsSenderCertificateName matches the certificate's subject or a SAN; <c>*.contoso.com</c> covers one label under
/// contoso.com (the same RFC 6125 rule as certificate matching). Partner connectors apply to their SenderDomains (the
/// MAIL FROM domain; <c>*</c> is every domain), and only when the certificate or the address matches if
/// RestrictDomainsToCertificate or RestrictDomainsToIPAddresses is set. Disabled connectors are skipped.</remarks>
internal static class ConnectorSelection
{
    public static ConnectorMatch Select(IReadOnlyList<InboundConnector> connectors, ConnectorSender sender)
    {
        var enabled = connectors.Where(c => c.Enabled).ToList();
        var onPremises = enabled.Where(c => c.Type == InboundConnectorType.OnPremises).ToList();

        var byCertificate = onPremises.Where(c => CertificateMatches(c, sender) is not null).ToList();
        if (byCertificate.Count > 0)
        {
            var c = byCertificate[0];
            return new ConnectorMatch(sender, c, $"OnPremises, certificate {CertificateMatches(c, sender)} matches TlsSenderCertificateName {c.TlsSenderCertificateName}", byCertificate.Skip(1).ToList());
        }

        var byAddress = sender.Address is null ? [] : onPremises.Where(c => c.IpMatches(sender.Address)).ToList();
        if (byAddress.Count > 0)
        {
            return new ConnectorMatch(sender, byAddress[0], $"OnPremises, sender address {sender.Address} is in SenderIPAddresses", byAddress.Skip(1).ToList());
        }

        var partners = enabled.Where(c => c.Type == InboundConnectorType.Partner && PartnerApplies(c, sender)).ToList();
        if (partners.Count > 0)
        {
            var c = partners[0];
            var why = $"Partner, MAIL FROM domain {sender.MailFromDomain ?? "(none)"} is in SenderDomains"
                + (c.RestrictDomainsToCertificate ? $", certificate {CertificateMatches(c, sender)} matches TlsSenderCertificateName {c.TlsSenderCertificateName}" : string.Empty)
                + (c.RestrictDomainsToIPAddresses ? $", address {sender.Address} is in SenderIPAddresses" : string.Empty);
            return new ConnectorMatch(sender, c, why, partners.Skip(1).ToList());
        }

        return new ConnectorMatch(sender, null, "no connector matches: treated as ordinary internet mail", []);
    }

    /// <summary>The certificate name a connector's TlsSenderCertificateName covers, or null.</summary>
    public static string? CertificateMatches(InboundConnector connector, ConnectorSender sender)
    {
        if (connector.TlsSenderCertificateName is not { } wanted)
        {
            return null;
        }

        return sender.CertificateNames.FirstOrDefault(n => n.Equals(wanted, StringComparison.OrdinalIgnoreCase) || (!n.StartsWith("*.", StringComparison.Ordinal) && CertificateDetector.Covers([wanted], n)));
    }

    private static bool PartnerApplies(InboundConnector c, ConnectorSender sender)
    {
        var domain = sender.MailFromDomain;
        var domainMatches = c.SenderDomains.Count == 0 || c.SenderDomains.Any(d => d == "*" || (domain is not null && (d.Equals(domain, StringComparison.OrdinalIgnoreCase)
            || (d.StartsWith("*.", StringComparison.Ordinal) && domain.EndsWith(d[1..], StringComparison.OrdinalIgnoreCase)))));
        return domainMatches
            && (!c.RestrictDomainsToCertificate || CertificateMatches(c, sender) is not null)
            && (!c.RestrictDomainsToIPAddresses || (sender.Address is not null && c.IpMatches(sender.Address)));
    }

    /// <summary>CONNECTOR_WILDCARD_OVERLAP: one wildcard TlsSenderCertificateName covering the certificates of more than
    /// one distinct sending host (seed 004: *.varunagroup.de caught the gateways mx01/mx02 as well as the Edge smtpo365).</summary>
    public static IReadOnlyList<Finding> Overlaps(IReadOnlyList<InboundConnector> connectors, IReadOnlyList<ConnectorSender> senders)
    {
        var found = new List<Finding>();
        foreach (var c in connectors.Where(c => c.Enabled && c.HasWildcardCertificateName))
        {
            var hosts = senders
                .Where(s => CertificateMatches(c, s) is not null)
                .GroupBy(s => s.HostKey, StringComparer.Ordinal)
                .Select(g => g.First())
                .ToList();
            if (hosts.Count < 2)
            {
                continue;
            }

            var described = hosts.Select(h => $"{CertificateMatches(c, h)} ({h.CertificateSubject ?? "no subject"}{(h.Address is null ? string.Empty : $", from {h.Address}")})").ToList();
            var evidence = hosts.Select(h => h.CertificateEvent).OfType<TranscriptEvent>().Select(FindingEvidence.Of).ToList();
            var finding = FindingCatalog.ConnectorWildcardOverlap.Create(
                FindingLeg.Client,
                $"inbound connector \"{c.Name}\" ({c.Type}) with TlsSenderCertificateName {c.TlsSenderCertificateName} matches {hosts.Count} sending hosts: {string.Join(", ", described)}",
                evidence,
                new Dictionary<string, object?>
                {
                    ["connector"] = c.Name,
                    ["connectorType"] = c.Type.ToString(),
                    ["tlsSenderCertificateName"] = c.TlsSenderCertificateName,
                    ["hosts"] = hosts.Select(h => CertificateMatches(c, h)).ToList(),
                    ["sessions"] = hosts.Select(h => h.Session).ToList(),
                });
            found.Add(finding with { Session = hosts[0].Session, At = hosts[0].CertificateEvent?.Timestamp ?? default });
        }

        return found;
    }
}
