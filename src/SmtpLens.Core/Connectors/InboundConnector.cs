using System.Net;
using System.Text.Json;

namespace SmtpLens.Connectors;

internal enum InboundConnectorType
{
    Partner,
    OnPremises,
}

/// <summary>The parameters of an Exchange Online inbound connector that decide which mail it catches.</summary>
internal sealed record InboundConnector(
    string Name,
    InboundConnectorType Type,
    bool Enabled,
    IReadOnlyList<string> SenderIPAddresses,
    string? TlsSenderCertificateName,
    bool RequireTls,
    bool RestrictDomainsToCertificate,
    bool RestrictDomainsToIPAddresses,
    IReadOnlyList<string> SenderDomains)
{
    public bool HasWildcardCertificateName => TlsSenderCertificateName?.StartsWith("*.", StringComparison.Ordinal) == true;

    /// <summary>New-InboundConnector parameters, or <c>Get-InboundConnector | ConvertTo-Json</c> output: one object or an
    /// array, enums as names or numbers, extra fields ignored.</summary>
    /// <exception cref="InvalidDataException">The JSON is not connectors.</exception>
    public static IReadOnlyList<InboundConnector> Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"not JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            var items = root.ValueKind switch
            {
                JsonValueKind.Array => root.EnumerateArray().ToList(),
                JsonValueKind.Object => [root],
                _ => throw new InvalidDataException("expected a connector object or an array of them"),
            };
            return [.. items.Select((item, i) => From(item, i))];
        }
    }

    private static InboundConnector From(JsonElement item, int index)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"connector {index + 1} is not an object");
        }

        var name = Text(item, "Name") ?? Text(item, "Identity") ?? $"connector {index + 1}";
        return new InboundConnector(
            name,
            ConnectorType(item, name),
            Bool(item, "Enabled") ?? true,
            [.. Texts(item, "SenderIPAddresses")],
            CertificateName(item),
            Bool(item, "RequireTls") ?? false,
            Bool(item, "RestrictDomainsToCertificate") ?? false,
            Bool(item, "RestrictDomainsToIPAddresses") ?? false,
            [.. Texts(item, "SenderDomains").Select(Domain)]);
    }

    /// <summary>ConvertTo-Json writes enums as numbers unless -EnumsAsStrings: Microsoft.Exchange.Data.TenantConnectorType
    /// declares OnPremises = 1, Partner (= 2) (docs/diagnoses.md).</summary>
    private static InboundConnectorType ConnectorType(JsonElement item, string name)
    {
        if (!Property(item, "ConnectorType", out var value))
        {
            return InboundConnectorType.Partner;
        }

        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt32(out var n) && n == 1 => InboundConnectorType.OnPremises,
            JsonValueKind.Number when value.TryGetInt32(out var n) && n == 2 => InboundConnectorType.Partner,
            JsonValueKind.String when string.Equals(value.GetString(), "Partner", StringComparison.OrdinalIgnoreCase) => InboundConnectorType.Partner,
            JsonValueKind.String when string.Equals(value.GetString(), "OnPremises", StringComparison.OrdinalIgnoreCase) => InboundConnectorType.OnPremises,
            _ => throw new InvalidDataException($"connector {name}: ConnectorType {value.GetRawText()} is neither OnPremises nor Partner"),
        };
    }

    /// <summary>A string, or the SmtpDomainWithSubdomains object Get-InboundConnector serializes (Address, or Domain plus IncludeSubDomains).</summary>
    private static string? CertificateName(JsonElement item)
    {
        if (!Property(item, "TlsSenderCertificateName", out var value))
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return Domain(value.GetString() ?? string.Empty) is { Length: > 0 } s ? s : null;
        }

        if (value.ValueKind == JsonValueKind.Object)
        {
            if (Text(value, "Address") is { } address)
            {
                return Domain(address);
            }

            if (Text(value, "Domain") is { } domain)
            {
                return Bool(value, "IncludeSubDomains") == true ? "*." + domain : domain;
            }
        }

        return null;
    }

    /// <summary>Get-InboundConnector prints address spaces as <c>smtp:*.contoso.com;1</c>.</summary>
    private static string Domain(string raw)
    {
        var s = raw.Trim();
        if (s.StartsWith("smtp:", StringComparison.OrdinalIgnoreCase))
        {
            s = s[5..];
        }

        var semicolon = s.IndexOf(';', StringComparison.Ordinal);
        return (semicolon >= 0 ? s[..semicolon] : s).Trim().TrimEnd('.');
    }

    private static bool Property(JsonElement item, string name, out JsonElement value)
    {
        foreach (var p in item.EnumerateObject())
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase) && p.Value.ValueKind != JsonValueKind.Null)
            {
                value = p.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static string? Text(JsonElement item, string name) =>
        Property(item, name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : null;

    private static bool? Bool(JsonElement item, string name) =>
        Property(item, name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String when bool.TryParse(v.GetString(), out var b) => b,
            _ => null,
        } : null;

    /// <summary>An array of strings, a single string (comma separated), or objects whose text is in a known field.</summary>
    private static IEnumerable<string> Texts(JsonElement item, string name)
    {
        if (!Property(item, name, out var value))
        {
            return [];
        }

        var raw = value.ValueKind switch
        {
            JsonValueKind.Array => value.EnumerateArray().Select(v => v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Object => Text(v, "Expression") ?? Text(v, "Address") ?? Text(v, "Domain"),
                _ => null,
            }),
            JsonValueKind.String => (value.GetString() ?? string.Empty).Split(','),
            _ => [],
        };
        return raw.OfType<string>().Select(s => s.Trim()).Where(s => s.Length > 0);
    }

    /// <summary>SenderIPAddresses entries: an address, a CIDR range, or a <c>first-last</c> range.</summary>
    public bool IpMatches(IPAddress address) => SenderIPAddresses.Any(entry => InRange(entry, address));

    private static bool InRange(string entry, IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPNetwork.TryParse(entry, out var network))
        {
            return network.Contains(address);
        }

        var dash = entry.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0 && IPAddress.TryParse(entry[..dash], out var first) && IPAddress.TryParse(entry[(dash + 1)..], out var last)
            && first.AddressFamily == address.AddressFamily && last.AddressFamily == address.AddressFamily)
        {
            var a = address.GetAddressBytes();
            return Compare(first.GetAddressBytes(), a) <= 0 && Compare(a, last.GetAddressBytes()) <= 0;
        }

        return IPAddress.TryParse(entry, out var single) && single.Equals(address);
    }

    private static int Compare(byte[] x, byte[] y)
    {
        for (var i = 0; i < x.Length; i++)
        {
            if (x[i] != y[i])
            {
                return x[i].CompareTo(y[i]);
            }
        }

        return 0;
    }
}
