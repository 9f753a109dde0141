using System.Globalization;
using System.Text;
using SmtpLens.Protocol;
using SmtpLens.Tls;

namespace SmtpLens.Probe;

/// <summary>The human-readable probe report: what was said, in order, then the findings, for an admin in a hurry.</summary>
internal static class ProbeTextReport
{
    private const int LabelWidth = 13;

    public static void WriteHost(StringBuilder text, HostProbe host)
    {
        var main = host.Main;
        text.Append(CultureInfo.InvariantCulture, $"probe {host.Target}{(host.MxName is null ? string.Empty : $" (MX {host.MxName})")}{(host.Address is null ? string.Empty : $" at {host.Address}")}\n");
        if (main.RemoteEndPoint is not null)
        {
            Line(text, "connected", $"{main.RemoteEndPoint} from {main.LocalEndPoint}");
        }

        if (main.Tls is { } implicitTls && !main.StartTlsAttempted)
        {
            Tls(text, implicitTls);
        }

        if (main.Banner is { } banner)
        {
            Reply(text, "banner", banner);
        }

        if (main.HelloReply is { } hello)
        {
            Hello(text, "EHLO", hello, main.EhloBeforeTls);
        }

        if (main.StartTlsAttempted)
        {
            var how = main.StartTlsOffered ? string.Empty : " (forced: STARTTLS was not advertised)";
            if (main.StartTlsReply is { } startTls)
            {
                Reply(text, "STARTTLS", startTls, how);
            }

            if (main.Tls is { } tls)
            {
                Tls(text, tls);
            }
        }
        else if (main.HelloReply is not null && main.Tls is null)
        {
            Line(text, "STARTTLS", main.StartTlsOffered ? "advertised, not used (--no-starttls)" : "not advertised, so not attempted (--force-starttls tries anyway)");
        }

        if (main.HelloReplyInTls is { } helloInTls)
        {
            Hello(text, "EHLO in TLS", helloInTls, main.EhloInTls);
            Changes(text, main.KeywordChanges);
        }

        if (main.TlsRequirementCheck is { } vrfy)
        {
            Reply(text, "VRFY", vrfy, "  (does the server demand TLS? the probe never sends MAIL)");
        }

        if (main.HelloReply is not null)
        {
            Line(text, "enforcement", StartTlsEnforcement.Of(main, main.Tls is not null && !main.StartTlsAttempted).Line());
        }

        if (main.QuitReply is { } quit)
        {
            Reply(text, "QUIT", quit);
        }

        if (main.Note is { } note)
        {
            Line(text, "!", note);
        }

        if (main.Error is { } error)
        {
            Line(text, "ERROR", error);
        }

        var findings = main.Findings;
        text.Append(findings.Count == 0 ? "findings: none\n" : $"findings ({ProbeOutcome.Tally(findings)}):\n");
        FindingText.Write(text, findings);

        if (host.Offers.Count > 0)
        {
            text.Append("TLS offers, one connection each (their findings are in --json and do not change the exit code):\n");
            var width = Math.Max(24, host.Offers.Max(o => o.Offer!.Label.Length) + 2);
            foreach (var offer in host.Offers)
            {
                text.Append("  ").Append(offer.Offer!.Label.PadRight(width)).Append(OfferOutcome(offer)).Append('\n');
            }
        }
    }

    /// <summary>One line per restricted offer: what the server did with it.</summary>
    public static string OfferOutcome(ProbeSession offer) => offer switch
    {
        { Tls: { Completed: true } leg } => $"accepted: {TlsNames.Version(leg.Version ?? 0)} {(leg.CipherSuite is { } s ? TlsNames.CipherSuite(s) : "?")}",
        { Tls: { } leg } => $"refused: {leg.Failure}",
        { Error: { } error } => $"not tested: {error}",
        { StartTlsReply: { Code: not 220 } reply } => $"not tested: STARTTLS answered {reply.RawLines[^1]}",
        { StartTlsAttempted: false } => "not tested: STARTTLS not advertised (use --force-starttls)",
        _ => "not tested",
    };

    private static void Tls(StringBuilder text, TlsLegRecord leg)
    {
        if (!leg.Completed)
        {
            Line(text, "TLS", $"handshake FAILED: {leg.Failure}");
        }
        else
        {
            Line(text, "TLS", string.Create(CultureInfo.InvariantCulture, $"{TlsNames.Version(leg.Version ?? 0)} {(leg.CipherSuite is { } s ? TlsNames.CipherSuite(s) : "?")}, EMS {(leg.ExtendedMasterSecret == true ? "yes" : "no")}, {leg.Duration?.TotalMilliseconds:0} ms"));
        }

        for (var i = 0; i < leg.ServerCertificates.Count; i++)
        {
            var c = leg.ServerCertificates[i];
            Line(text, i == 0 ? "certificate" : string.Empty, $"[{i}] CN={c.CommonName ?? "(none)"} SAN=[{string.Join(", ", c.SubjectAltNames)}]");
            Line(text, string.Empty, $"    issuer \"{c.Issuer}\", valid {c.NotBefore:yyyy-MM-dd HH:mm}Z .. {c.NotAfter:yyyy-MM-dd HH:mm}Z, {c.KeyType}-{c.KeySize}, sha256 {c.Sha256Fingerprint[..16]}…");
        }

        if (leg.ChainStatus is not null)
        {
            Line(text, "trust", leg.ChainTrusted == true ? "chain builds to the system trust store" : $"chain NOT trusted: {leg.ChainStatus}");
        }

        Line(text, "name", leg.NameChecked is null
            ? "not checked (probed by IP address; give --sni NAME to check one)"
            : $"{leg.NameChecked} {(leg.NameMatches == true ? "matches the certificate" : "does NOT match the certificate")}");
    }

    private static void Hello(StringBuilder text, string label, SmtpReply reply, EhloReply? ehlo)
    {
        if (ehlo is null)
        {
            Reply(text, label, reply);
            return;
        }

        Line(text, label, $"{reply.Code} {ehlo.Domain} {ehlo.Greeting}".TrimEnd());
        var keywords = ehlo.Keywords.Select(k => k.Parameters.Length > 0 ? $"{k.Keyword} {k.Parameters}" : k.Keyword).ToList();
        Line(text, string.Empty, keywords.Count == 0 ? "(no keywords)" : string.Join(", ", keywords));
    }

    private static void Changes(StringBuilder text, EhloComparison changes)
    {
        if (changes.IsEmpty)
        {
            Line(text, "after TLS", "same keywords as in plaintext");
            return;
        }

        var label = "after TLS";
        foreach (var k in changes.OnlyBefore)
        {
            var why = EhloComparison.IsExpectedOnlyBefore(k.Keyword) ? "expected: not offered again inside TLS"
                : Findings.MaskedText.IsMaskedToken(k.Keyword) ? "a masked keyword: its original is probably among the +"
                : "offered in plaintext only";
            Line(text, label, $"- {k.Keyword}  ({why})");
            label = string.Empty;
        }

        foreach (var k in changes.OnlyInTls)
        {
            Line(text, label, $"+ {k.Keyword} {k.Parameters}".TrimEnd() + (EhloComparison.IsExpectedOnlyInTls(k.Keyword) ? "  (common: AUTH only over TLS)" : "  (hidden from plaintext: a middlebox filtering ESMTP?)"));
            label = string.Empty;
        }

        foreach (var (before, inTls) in changes.ParametersChanged)
        {
            Line(text, label, $"~ {before.Keyword}: \"{before.Parameters}\" in plaintext, \"{inTls.Parameters}\" inside TLS");
            label = string.Empty;
        }
    }

    private static void Reply(StringBuilder text, string label, SmtpReply reply, string suffix = "")
    {
        for (var i = 0; i < reply.RawLines.Count; i++)
        {
            Line(text, i == 0 ? label : string.Empty, reply.RawLines[i] + (i == reply.RawLines.Count - 1 ? suffix : string.Empty));
        }
    }

    private static void Line(StringBuilder text, string label, string value) =>
        text.Append("  ").Append(label.PadRight(LabelWidth)).Append(value).Append('\n');
}
