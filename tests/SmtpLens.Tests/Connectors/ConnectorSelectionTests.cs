using System.Net;
using SmtpLens.Connectors;
using SmtpLens.Findings;
using SmtpLens.Tests.Findings;
using SmtpLens.Transcripts;

namespace SmtpLens.Tests.Connectors;

/// <summary>Seed 004: which inbound connector the gateways mx01/mx02 and the Edge smtpo365 land on, from recorded sessions.</summary>
public sealed class ConnectorSelectionTests
{
    private const string HybridWildcard = """
        [{ "Name": "Inbound from varunagroup", "ConnectorType": "OnPremises", "TlsSenderCertificateName": "*.varunagroup.de",
           "RequireTls": true, "RestrictDomainsToCertificate": false, "RestrictDomainsToIPAddresses": false, "SenderDomains": ["*"] }]
        """;

    /// <summary>Get-InboundConnector | ConvertTo-Json: one object, enums as numbers, address spaces as smtp:...;1, extra fields.</summary>
    private const string GetInboundConnectorOutput = """
        { "Identity": "Inbound from varunagroup", "Name": "Inbound from varunagroup", "Enabled": true, "ConnectorType": 1,
          "ConnectorSource": 2, "TlsSenderCertificateName": "smtpo365.varunagroup.de", "RequireTls": true,
          "SenderIPAddresses": [], "SenderDomains": ["smtp:*;1"], "AssociatedAcceptedDomains": [], "WhenChanged": "/Date(1700000000000)/" }
        """;

    private static ConnectorSender Sender(string name, string ip)
    {
        var client = SessionEvents.CompletedLeg("client");
        client.ClientCertificates.Add(SessionEvents.Certificate(name, [name]));
        var events = new SessionEvents()
            .Event(Direction.Proxy, EventKinds.Connect, $"client {ip}:40000 connected", new Dictionary<string, object?> { ["client"] = $"{ip}:40000" })
            .Smtp(HealthyDialogues.PostfixBeforeTls.Replace("EHLO client.example.com", $"EHLO {name}", StringComparison.Ordinal))
            .Intercepted(SessionEvents.CompletedLeg("upstream", certificate: SessionEvents.Certificate("mx.example.org", ["mx.example.org"])), client)
            .Disconnect()
            .Events;
        return ConnectorSender.From(name, events);
    }

    private static readonly ConnectorSender[] Seed004 =
    [
        Sender("mx01.varunagroup.de", "192.0.2.11"),
        Sender("mx02.varunagroup.de", "192.0.2.12"),
        Sender("smtpo365.varunagroup.de", "192.0.2.20"),
    ];

    [Fact]
    public void SenderFromTranscript_HasAddressEhloAndCertificateNames()
    {
        var s = Seed004[0];
        Assert.Equal(IPAddress.Parse("192.0.2.11"), s.Address);
        Assert.Equal("mx01.varunagroup.de", s.Ehlo);
        Assert.Equal(["mx01.varunagroup.de"], s.CertificateNames);
        Assert.NotNull(s.CertificateEvent);
    }

    [Fact]
    public void Seed004_WildcardOnPremisesConnector_CatchesTheGateways_AndIsAnOverlap()
    {
        var connectors = InboundConnector.Parse(HybridWildcard);

        var gateway = ConnectorSelection.Select(connectors, Seed004[0]);
        Assert.Equal("Inbound from varunagroup", gateway.Connector?.Name);
        Assert.Equal("OnPremises, certificate mx01.varunagroup.de matches TlsSenderCertificateName *.varunagroup.de", gateway.Reason);

        var overlap = Assert.Single(ConnectorSelection.Overlaps(connectors, Seed004));
        Assert.Equal(FindingCodes.ConnectorWildcardOverlap, overlap.Code);
        Assert.Equal("inbound connector \"Inbound from varunagroup\" (OnPremises) with TlsSenderCertificateName *.varunagroup.de matches 3 sending hosts: mx01.varunagroup.de (CN=mx01.varunagroup.de, from 192.0.2.11), mx02.varunagroup.de (CN=mx02.varunagroup.de, from 192.0.2.12), smtpo365.varunagroup.de (CN=smtpo365.varunagroup.de, from 192.0.2.20)", overlap.Title);
        Assert.Equal(3, overlap.Evidence.Count);
    }

    [Fact]
    public void Seed004_TheFix_DedicatedCertificateName_InGetInboundConnectorJson_OnlyTheEdgeMatches_NoOverlap()
    {
        var connectors = InboundConnector.Parse(GetInboundConnectorOutput);

        var only = Assert.Single(connectors);
        Assert.Equal(InboundConnectorType.OnPremises, only.Type);
        Assert.Equal(["*"], only.SenderDomains);
        Assert.Null(ConnectorSelection.Select(connectors, Seed004[0]).Connector);
        Assert.Null(ConnectorSelection.Select(connectors, Seed004[1]).Connector);
        Assert.Equal("Inbound from varunagroup", ConnectorSelection.Select(connectors, Seed004[2]).Connector?.Name);
        Assert.Empty(ConnectorSelection.Overlaps(connectors, Seed004));
    }

    [Fact]
    public void CertificateMatch_WinsOverAnAddressMatch_AndTheWildcardCoversOneLabelOnly()
    {
        var connectors = InboundConnector.Parse("""
            [{ "Name": "by-ip", "ConnectorType": 1, "SenderIPAddresses": ["192.0.2.0/24"] },
             { "Name": "by-cert", "ConnectorType": "OnPremises", "TlsSenderCertificateName": "*.varunagroup.de" }]
            """);

        Assert.Equal("by-cert", ConnectorSelection.Select(connectors, Seed004[0]).Connector?.Name);
        var deeper = ConnectorSelection.Select(connectors, Sender("a.mx01.varunagroup.de", "192.0.2.30"));
        Assert.Equal("by-ip", deeper.Connector?.Name);
        Assert.Equal("OnPremises, sender address 192.0.2.30 is in SenderIPAddresses", deeper.Reason);
        Assert.Null(ConnectorSelection.Select(connectors, Sender("other.example.net", "198.51.100.1")).Connector);
    }

    [Fact]
    public void PartnerConnector_RestrictedToIpAddresses_AppliesOnlyFromItsRange()
    {
        var connectors = InboundConnector.Parse("""
            { "Name": "partner", "ConnectorType": "Partner", "SenderDomains": ["smtp:*;1"], "RestrictDomainsToIPAddresses": true, "SenderIPAddresses": ["192.0.2.10-192.0.2.12"] }
            """);

        Assert.Equal("partner", ConnectorSelection.Select(connectors, Seed004[0]).Connector?.Name);
        Assert.Null(ConnectorSelection.Select(connectors, Seed004[2]).Connector);
    }

    /// <summary>Microsoft.Exchange.Data.TenantConnectorType: OnPremises = 1, Partner = 2 (what ConvertTo-Json writes without -EnumsAsStrings).</summary>
    [Fact]
    public void NumericConnectorType_IsTenantConnectorType_OnPremises1_Partner2()
    {
        var connectors = InboundConnector.Parse("""[{ "Name": "a", "ConnectorType": 1 }, { "Name": "b", "ConnectorType": 2 }]""");

        Assert.Equal([InboundConnectorType.OnPremises, InboundConnectorType.Partner], connectors.Select(c => c.Type));
        Assert.Throws<InvalidDataException>(() => InboundConnector.Parse("""{ "Name": "c", "ConnectorType": 3 }"""));
    }

    [Fact]
    public void NotConnectors_IsInvalidData()
    {
        Assert.Throws<InvalidDataException>(() => InboundConnector.Parse("42"));
        Assert.Throws<InvalidDataException>(() => InboundConnector.Parse("{ \"Name\": \"x\", \"ConnectorType\": \"Internet\" }"));
        Assert.Throws<InvalidDataException>(() => InboundConnector.Parse("not json"));
    }
}
