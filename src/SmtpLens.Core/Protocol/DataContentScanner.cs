namespace SmtpLens.Protocol;

/// <summary>Receives message content with dot-stuffing removed, as the receiving MTA will store it.</summary>
internal interface IMessageContentSink
{
    void Write(ReadOnlySpan<byte> content);
}

/// <summary>Line-ending patterns around a dot that receivers disagree on (SMTP smuggling, 2023).</summary>
[Flags]
internal enum DotAnomalies
{
    None = 0,

    /// <summary><c>&lt;LF&gt;.&lt;LF&gt;</c> or <c>&lt;LF&gt;.&lt;CR&gt;&lt;LF&gt;</c>: a dot line after a bare LF.</summary>
    BareLfDot = 1,

    /// <summary><c>&lt;CR&gt;.&lt;CR&gt;</c> and similar: a dot line after a bare CR.</summary>
    BareCrDot = 2,

    /// <summary><c>&lt;CRLF&gt;.&lt;LF&gt;</c> or <c>&lt;CRLF&gt;.&lt;CR&gt;</c> not followed by LF: a half terminator.</summary>
    HalfTerminator = 4,

    /// <summary>Any bare LF in the content.</summary>
    BareLf = 8,

    /// <summary>Any bare CR in the content.</summary>
    BareCr = 16,
}

/// <summary>Follows a DATA payload byte by byte up to the RFC 5321 terminator CRLF.CRLF.</summary>
/// <remarks>Pure state over spans: the content may arrive in any split. It forwards nothing itself; it tells
/// the relay how many bytes belong to the message and feeds the un-stuffed content to a sink.</remarks>
internal sealed class DataContentScanner
{
    private State _state = State.LineStart;
    private long _wireBytes;

    private enum State
    {
        Mid,
        Cr,
        LineStart,
        LineStartDot,
        LineStartDotCr,
        BareLfLineStart,
        BareLfDot,
        BareCrDot,
    }

    /// <summary>Bytes on the wire so far, terminator included once complete.</summary>
    public long WireBytes => _wireBytes;

    public DotAnomalies Anomalies { get; private set; }

    public bool Complete { get; private set; }

    /// <summary>Scans <paramref name="data"/>; returns how many of its bytes belong to the message.</summary>
    /// <remarks>When the terminator ends inside <paramref name="data"/>, the rest is the next command.</remarks>
    public int Scan(ReadOnlySpan<byte> data, IMessageContentSink sink)
    {
        if (Complete)
        {
            return 0;
        }

        var emitFrom = 0;
        var i = 0;
        while (i < data.Length)
        {
            if (_state == State.Mid)
            {
                var next = data[i..].IndexOfAny((byte)'\r', (byte)'\n');
                if (next < 0)
                {
                    i = data.Length;
                    break;
                }

                i += next;
            }

            var b = data[i];
            switch (_state)
            {
                case State.Mid:
                    if (b == (byte)'\r')
                    {
                        _state = State.Cr;
                    }
                    else
                    {
                        Anomalies |= DotAnomalies.BareLf;
                        _state = State.BareLfLineStart;
                    }

                    i++;
                    break;

                case State.Cr:
                    if (b == (byte)'\n')
                    {
                        _state = State.LineStart;
                        i++;
                    }
                    else
                    {
                        Anomalies |= DotAnomalies.BareCr;
                        if (b == (byte)'.')
                        {
                            _state = State.BareCrDot;
                            i++;
                        }
                        else if (b == (byte)'\r')
                        {
                            i++;
                        }
                        else
                        {
                            _state = State.Mid;
                        }
                    }

                    break;

                case State.LineStart:
                    if (b == (byte)'.')
                    {
                        // RFC 5321 4.5.2: a leading dot is transparency; it is never part of the message.
                        sink.Write(data[emitFrom..i]);
                        emitFrom = i + 1;
                        _state = State.LineStartDot;
                        i++;
                    }
                    else
                    {
                        _state = State.Mid;
                    }

                    break;

                case State.LineStartDot:
                    if (b == (byte)'\r')
                    {
                        // Hold the CR back: if LF follows, CR LF belongs to the terminator, not the message.
                        sink.Write(data[emitFrom..i]);
                        emitFrom = i + 1;
                        _state = State.LineStartDotCr;
                        i++;
                    }
                    else
                    {
                        if (b == (byte)'\n')
                        {
                            Anomalies |= DotAnomalies.HalfTerminator;
                        }

                        _state = State.Mid;
                    }

                    break;

                case State.LineStartDotCr:
                    if (b == (byte)'\n')
                    {
                        i++;
                        _wireBytes += i;
                        Complete = true;
                        return i;
                    }

                    Anomalies |= DotAnomalies.HalfTerminator;
                    sink.Write("\r"u8);
                    _state = State.Cr;
                    break;

                case State.BareLfLineStart:
                    if (b == (byte)'.')
                    {
                        _state = State.BareLfDot;
                        i++;
                    }
                    else
                    {
                        _state = State.Mid;
                    }

                    break;

                case State.BareLfDot:
                case State.BareCrDot:
                    if (b is (byte)'\r' or (byte)'\n')
                    {
                        Anomalies |= _state == State.BareLfDot ? DotAnomalies.BareLfDot : DotAnomalies.BareCrDot;
                    }

                    _state = State.Mid;
                    break;
            }
        }

        sink.Write(data[emitFrom..i]);
        _wireBytes += data.Length;
        return data.Length;
    }
}
