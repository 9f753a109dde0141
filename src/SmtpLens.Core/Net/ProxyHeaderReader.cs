using System.Net.Sockets;

namespace SmtpLens.Net;

/// <summary>Reads a PROXY header from a freshly accepted socket, exactly: never a byte of the SMTP stream after it.</summary>
internal static class ProxyHeaderReader
{
    /// <summary>Like Postfix's smtpd_upstream_proxy_timeout: a balancer sends the header at once.</summary>
    public static readonly TimeSpan HeaderTimeout = TimeSpan.FromSeconds(5);

    /// <summary>With "optional", how long a silent client may take before it counts as direct (it waits for a banner).</summary>
    public static readonly TimeSpan OptionalWait = TimeSpan.FromSeconds(1);

    /// <returns>The header; or (null, null) for no header where that is allowed; or an error saying why it was refused.</returns>
    public static async Task<(ProxyHeader? Header, string? Error)> ReadAsync(Socket socket, ProxyProtocolMode mode, TimeProvider time, CancellationToken cancellationToken)
    {
        if (mode == ProxyProtocolMode.None)
        {
            return (null, null);
        }

        var buffer = new byte[256];
        if (mode == ProxyProtocolMode.Optional)
        {
            using var wait = new CancellationTokenSource(OptionalWait, time);
            using var waitLinked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, wait.Token);
            int peeked;
            try
            {
                peeked = await socket.ReceiveAsync(buffer.AsMemory(0, ProxyHeaderParser.V2Signature.Length), SocketFlags.Peek, waitLinked.Token);
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return (null, null);
            }

            if (peeked == 0 || !ProxyHeaderParser.BeginsLikeHeader(buffer.AsSpan(0, peeked)))
            {
                return (null, null);
            }
        }

        using var deadline = new CancellationTokenSource(HeaderTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var have = 0;
        try
        {
            while (true)
            {
                var result = ProxyHeaderParser.Parse(buffer.AsSpan(0, have));
                switch (result.Status)
                {
                    case ProxyParseStatus.Complete:
                        var header = result.Header!;
                        return mode switch
                        {
                            ProxyProtocolMode.V1 when header.Version != 1 => (null, "PROXY v2 header where this listener requires v1"),
                            ProxyProtocolMode.V2 when header.Version != 2 => (null, "PROXY v1 header where this listener requires v2"),
                            _ => (header, null),
                        };
                    case ProxyParseStatus.Invalid:
                        return (null, result.Error);
                }

                if (buffer.Length < result.Length)
                {
                    Array.Resize(ref buffer, result.Length);
                }

                while (have < result.Length)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(have, result.Length - have), SocketFlags.None, linked.Token);
                    if (n == 0)
                    {
                        return (null, have == 0 ? "connection closed before a PROXY header" : $"connection closed after {have} bytes of a PROXY header: {Protocol.AsciiText.Escape(buffer.AsSpan(0, have))}");
                    }

                    have += n;
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return (null, have == 0
                ? $"no PROXY header within {HeaderTimeout.TotalSeconds:0} s (is the client connecting directly instead of through the balancer?)"
                : $"incomplete PROXY header after {HeaderTimeout.TotalSeconds:0} s: {Protocol.AsciiText.Escape(buffer.AsSpan(0, have))}");
        }
        catch (SocketException e)
        {
            return (null, $"reading the PROXY header failed: {e.SocketErrorCode}");
        }
    }
}
