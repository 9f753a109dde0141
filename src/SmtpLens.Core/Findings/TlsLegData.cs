using SmtpLens.Transcripts;

namespace SmtpLens.Findings;

/// <summary>The fields of a <c>tls</c> / <c>tls-failed</c> event (a TlsLegRecord's data) that detectors use.</summary>
internal sealed record TlsLegData(TranscriptEvent Event, string LegName, bool Completed, string? Version, string? CipherSuite, IReadOnlyDictionary<string, object?> Data)
{
    /// <summary>Passthrough sees the two MTAs' own handshake; its certificate and choice are the upstream's.</summary>
    public FindingLeg Leg => LegName == "client" ? FindingLeg.Client : FindingLeg.Upstream;

    /// <summary>On the client leg the ClientHello is the sender's; on the upstream leg it is SmtpLens's own offer.</summary>
    public bool OfferIsSenders => LegName is "client" or "passthrough";

    /// <summary>On the upstream and passthrough legs the server certificate is the real upstream's (on the client leg it is forged).</summary>
    public bool CertificateIsUpstreams => LegName is "upstream" or "passthrough";

    public IReadOnlyDictionary<string, object?>? ClientHello => EventFields.Map(Data, "clientHello");

    public static TlsLegData? From(TranscriptEvent e)
    {
        if (e.Kind is not (EventKinds.TlsHandshake or EventKinds.TlsFailed) || e.Data is not { } data || EventFields.Text(data, "leg") is not { } leg)
        {
            return null;
        }

        return new TlsLegData(e, leg, EventFields.Bool(data, "completed") == true, EventFields.Text(data, "version"), EventFields.Text(data, "cipherSuite"), data);
    }
}
