namespace SmtpLens.Tls;

/// <summary>Which end of a leg raised an alert or failure.</summary>
internal enum TlsSide
{
    SmtpLens,
    Peer,
}

/// <summary>A handshake that did not complete, with the alert and who raised it when there was one.</summary>
internal sealed class TlsHandshakeException : IOException
{
    public TlsHandshakeException(string message, TlsAlert? alert, TlsSide raisedBy, Exception? inner = null)
        : base(message, inner)
    {
        Alert = alert;
        RaisedBy = raisedBy;
    }

    public TlsAlert? Alert { get; }

    public TlsSide RaisedBy { get; }
}
