using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SmtpLens.IO;
using SmtpLens.Protocol;

namespace SmtpLens.Lab;

/// <summary>A message for the lab client to send. Content is the message as stored (no dot-stuffing).</summary>
internal sealed record LabMessage(string From, IReadOnlyList<string> To, byte[] Content)
{
    /// <summary>Send with BDAT (RFC 3030) instead of DATA, in chunks of this size; 0 means DATA.</summary>
    public int BdatChunkSize { get; init; }
}

internal sealed record LabClientOptions
{
    public string Helo { get; init; } = "lab-client.smtplens.test";

    /// <summary>Send each transaction's commands as one group when the server offers PIPELINING.</summary>
    public bool Pipelining { get; init; }

    /// <summary>AUTH PLAIN with these credentials after EHLO.</summary>
    public (string User, string Password)? AuthPlain { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Issue STARTTLS after EHLO whether or not it is offered (and EHLO again inside TLS).</summary>
    public bool StartTls { get; init; }

    /// <summary>STARTTLS only when the server offers it; a refusal falls back to plaintext, as Postfix's "may".</summary>
    public bool OpportunisticTls { get; init; }

    /// <summary>Never send in plaintext: without STARTTLS on offer the queue defers, as a TLS-required connector does.</summary>
    public bool RequireTls { get; init; }

    /// <summary>TLS from the first byte (port 465 style).</summary>
    public bool ImplicitTls { get; init; }

    /// <summary>SNI and the name the client expects; the certificate is recorded, never enforced.</summary>
    public string TlsServerName { get; init; } = "lab-upstream.smtplens.test";

    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Abandon TLS when the server's certificate is expired or not yet valid (trust is not judged).</summary>
    public bool CheckCertificateDates { get; init; }

    public System.Security.Authentication.SslProtocols TlsProtocols { get; init; } = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;

    /// <summary>A forced-TLS sender's own judgement of the server's certificate against the name the server gave in its
    /// EHLO reply (Exchange's rules, seed 003): a reason returned defers every message, as the sender's queue would.</summary>
    public Func<System.Security.Cryptography.X509Certificates.X509Certificate2, string, CancellationToken, Task<string?>>? CertificateCheck { get; init; }

    /// <summary>Speak TLS with BouncyCastle under this policy (TLS 1.0/RC4 appliances), instead of the framework.</summary>
    public SmtpLens.Tls.TlsPolicy? BouncyPolicy { get; init; }
}

/// <summary>What became of one message, stated as an MTA's queue would state it.</summary>
internal sealed record MessageFate(LabMessage Message, SmtpReply? FinalReply, string Detail)
{
    public bool Delivered => FinalReply is { Class: 2 };

    /// <summary>The queue's verdict in the words Exchange uses for its last error.</summary>
    public string Report => FinalReply switch
    {
        { Class: 2 } r => $"delivered: {r.RawLines[^1]}",
        { Class: 4 } r => $"deferred: 451 4.4.0 Primary target IP address responded with: \"{r.RawLines[^1]}.\" ({Detail})",
        { } r => $"failed: 550 5.4.0 Primary target IP address responded with: \"{r.RawLines[^1]}.\" ({Detail})",
        null => $"deferred: 451 4.4.0 {Detail}",
    };
}

internal sealed record LabClientResult(SmtpReply? Greeting, EhloReply? Ehlo, IReadOnlyList<MessageFate> Fates, string? Error)
{
    /// <summary>The certificate the server presented, when TLS was used.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ServerCertificate { get; init; }

    public string? TlsProtocol { get; init; }

    public string? TlsCipher { get; init; }
}

/// <summary>The lab's sending MTA: sends a queue of messages over one session, with DATA or BDAT.</summary>
internal static class LabSmtpClient
{
    private const int MaxLine = 64 * 1024;

    // STARTTLS swaps readers over the same connection; completing the old one must not close it.
    private static readonly StreamPipeReaderOptions KeepOpen = new(leaveOpen: true);

    public static async Task<LabClientResult> SendAsync(IPEndPoint target, IReadOnlyList<LabMessage> messages, LabClientOptions options, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        var ct = timeout.Token;
        var fates = new List<MessageFate>();
        SmtpReply? greeting = null;
        EhloReply? ehlo = null;
        using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target, ct);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            TlsChannel? tls = null;
            if (options.ImplicitTls)
            {
                tls = await StartTlsAsync(stream, options, ct);
                stream = tls.Stream;
            }

            var reader = PipeReader.Create(stream, KeepOpen);
            greeting = await ExpectAsync(reader, ct);
            if (greeting.Class != 2)
            {
                return new LabClientResult(greeting, null, Refuse(messages, greeting, "greeting"), null);
            }

            await WriteAsync(stream, $"EHLO {options.Helo}\r\n", ct);
            var ehloReply = await ExpectAsync(reader, ct);
            ehlo = EhloReply.From(ehloReply);
            var offered = ehlo?.Has("STARTTLS") == true;
            if (options.RequireTls && !offered && !options.StartTls)
            {
                const string Required = "Primary target IP address responded with: \"451 5.7.3 STARTTLS is required to send mail.\" (the sender requires TLS; the server's EHLO reply offered no STARTTLS)";
                await WriteAsync(stream, "QUIT\r\n", ct);
                return new LabClientResult(greeting, ehlo, [.. messages.Select(m => new MessageFate(m, null, Required))], null);
            }

            if (options.StartTls || (offered && (options.OpportunisticTls || options.RequireTls)))
            {
                await WriteAsync(stream, "STARTTLS\r\n", ct);
                var ready = await ExpectAsync(reader, ct);
                if (ready.Code == 220)
                {
                    await reader.CompleteAsync();
                    tls = await StartTlsAsync(stream, options, ct);
                    stream = tls.Stream;
                    reader = PipeReader.Create(stream, KeepOpen);
                    await WriteAsync(stream, $"EHLO {options.Helo}\r\n", ct);
                    ehlo = EhloReply.From(await ExpectAsync(reader, ct));
                    if (options.CertificateCheck is { } check && tls.ServerCertificate is { } presented && await check(presented, ehlo?.Domain ?? string.Empty, ct) is { } refused)
                    {
                        await WriteAsync(stream, "QUIT\r\n", ct);
                        await SmtpLineReader.ReadReplyAsync(reader, MaxLine, ct);
                        return new LabClientResult(greeting, ehlo, [.. messages.Select(m => new MessageFate(m, null, $"deferred (queued for retry): the TLS certificate is not accepted: {refused}"))], null)
                        {
                            ServerCertificate = presented,
                            TlsProtocol = tls.Protocol,
                            TlsCipher = tls.Cipher,
                        };
                    }
                }
                else if (!options.OpportunisticTls || options.RequireTls)
                {
                    return new LabClientResult(greeting, ehlo, Refuse(messages, ready, "STARTTLS"), $"STARTTLS refused: {ready.RawLines[^1]}");
                }
            }

            if (options.AuthPlain is { } auth)
            {
                var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{auth.User}\0{auth.Password}"));
                await WriteAsync(stream, $"AUTH PLAIN {token}\r\n", ct);
                var authReply = await ExpectAsync(reader, ct);
                if (authReply.Class != 2)
                {
                    return new LabClientResult(greeting, ehlo, Refuse(messages, authReply, "AUTH"), null);
                }
            }

            var pipelining = options.Pipelining && ehlo?.Has("PIPELINING") == true;
            foreach (var message in messages)
            {
                fates.Add(await SendOneAsync(stream, reader, message, pipelining, ct));
            }

            var (serverCertificate, protocol, cipher) = (tls?.ServerCertificate, tls?.Protocol, tls?.Cipher);
            await WriteAsync(stream, "QUIT\r\n", ct);
            await SmtpLineReader.ReadReplyAsync(reader, MaxLine, ct);
            await reader.CompleteAsync();
            await stream.DisposeAsync();
            return new LabClientResult(greeting, ehlo, fates, null)
            {
                ServerCertificate = serverCertificate,
                TlsProtocol = protocol,
                TlsCipher = cipher,
            };
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException or System.Security.Authentication.AuthenticationException)
        {
            var why = e switch
            {
                OperationCanceledException => "timed out",
                System.Security.Authentication.AuthenticationException => $"TLS failed: {e.Message}",
                _ => $"connection lost: {e.Message}",
            };
            fates.AddRange(messages.Skip(fates.Count).Select(m => new MessageFate(m, null, why)));
            return new LabClientResult(greeting, ehlo, fates, why);
        }
    }

    private sealed record TlsChannel(Stream Stream, string? Protocol, string? Cipher, System.Security.Cryptography.X509Certificates.X509Certificate2? ServerCertificate);

    private static async Task<TlsChannel> StartTlsAsync(Stream inner, LabClientOptions options, CancellationToken ct)
    {
        if (options.BouncyPolicy is { } policy)
        {
            var record = new SmtpLens.Tls.TlsLegRecord("lab", "client");
            byte[]? leaf = null;
            var bouncy = await SmtpLens.Tls.Engine.TlsEngine.ConnectAsync(inner, policy, options.TlsServerName, record, TimeProvider.System, chain => leaf = chain.Count > 0 ? chain[0] : null, ct);
            return new TlsChannel(bouncy, SmtpLens.Tls.TlsNames.Version(record.Version ?? 0), SmtpLens.Tls.TlsNames.CipherSuite(record.CipherSuite ?? 0), leaf is null ? null : System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(leaf));
        }

        // The lab client records what it is shown and trusts it; diagnosing certificates is the proxy's job.
#pragma warning disable CA5359 // Lab peer: it reports the certificate it saw; SmtpLens records trust separately.
        var tls = new System.Net.Security.SslStream(inner, leaveInnerStreamOpen: false, (_, _, _, _) => true);
#pragma warning restore CA5359
        await tls.AuthenticateAsClientAsync(
            new System.Net.Security.SslClientAuthenticationOptions
            {
                TargetHost = options.TlsServerName,
                ClientCertificates = options.ClientCertificate is null ? null : [options.ClientCertificate],
                EnabledSslProtocols = options.TlsProtocols,
            },
            ct);
        var certificate = tls.RemoteCertificate is { } remote ? new System.Security.Cryptography.X509Certificates.X509Certificate2(remote) : null;
        if (options.CheckCertificateDates && certificate is not null && DateProblem(certificate) is { } problem)
        {
            await tls.DisposeAsync();
            throw new System.Security.Authentication.AuthenticationException(problem);
        }

        return new TlsChannel(tls, tls.SslProtocol.ToString(), tls.NegotiatedCipherSuite.ToString(), certificate);
    }

    private static string? DateProblem(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        var now = DateTime.UtcNow;
        return certificate.NotAfter.ToUniversalTime() < now
            ? $"the server certificate {certificate.Subject} expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}"
            : certificate.NotBefore.ToUniversalTime() > now
                ? $"the server certificate {certificate.Subject} is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd}"
                : null;
    }

    private static async Task<MessageFate> SendOneAsync(Stream stream, PipeReader reader, LabMessage message, bool pipelining, CancellationToken ct)
    {
        var envelope = new List<string> { $"MAIL FROM:<{message.From}>" };
        envelope.AddRange(message.To.Select(r => $"RCPT TO:<{r}>"));
        var useBdat = message.BdatChunkSize > 0;
        if (!useBdat)
        {
            envelope.Add("DATA");
        }

        var replies = new List<SmtpReply>();
        if (pipelining)
        {
            await WriteAsync(stream, string.Concat(envelope.Select(c => c + "\r\n")), ct);
            foreach (var _ in envelope)
            {
                replies.Add(await ExpectAsync(reader, ct));
            }
        }
        else
        {
            foreach (var command in envelope)
            {
                await WriteAsync(stream, command + "\r\n", ct);
                var reply = await ExpectAsync(reader, ct);
                replies.Add(reply);
                if (reply.Class is 4 or 5 && command.StartsWith("MAIL", StringComparison.Ordinal))
                {
                    return new MessageFate(message, reply, "MAIL FROM refused");
                }
            }
        }

        if (replies[0].Class != 2)
        {
            if (!useBdat && replies[^1].Code == 354)
            {
                await stream.WriteAsync(".\r\n"u8.ToArray(), ct);
                await ExpectAsync(reader, ct);
            }

            return new MessageFate(message, replies[0], "MAIL FROM refused");
        }

        if (!replies.Skip(1).Take(message.To.Count).Any(r => r.Class == 2))
        {
            if (!useBdat && replies[^1].Code == 354)
            {
                await stream.WriteAsync(".\r\n"u8.ToArray(), ct);
                await ExpectAsync(reader, ct);
            }

            return new MessageFate(message, replies[1], "all recipients refused");
        }

        if (useBdat)
        {
            return await SendChunksAsync(stream, reader, message, pipelining, ct);
        }

        if (replies[^1].Code != 354)
        {
            return new MessageFate(message, replies[^1], "DATA refused");
        }

        await WriteStuffedAsync(stream, message.Content, ct);
        var final = await ExpectAsync(reader, ct);
        return new MessageFate(message, final, final.Class == 2 ? "delivered" : "refused at end of data");
    }

    private static async Task<MessageFate> SendChunksAsync(Stream stream, PipeReader reader, LabMessage message, bool pipelining, CancellationToken ct)
    {
        var content = message.Content;
        var offset = 0;
        var sent = 0;
        do
        {
            var size = Math.Min(message.BdatChunkSize, content.Length - offset);
            var last = offset + size >= content.Length;
            await WriteAsync(stream, last ? $"BDAT {size} LAST\r\n" : $"BDAT {size}\r\n", ct);
            await stream.WriteAsync(content.AsMemory(offset, size), ct);
            offset += size;
            sent++;
            if (!pipelining)
            {
                var reply = await ExpectAsync(reader, ct);
                sent--;
                if (reply.Class != 2 || last)
                {
                    return new MessageFate(message, reply, reply.Class == 2 ? "delivered" : "refused during BDAT");
                }
            }
        }
        while (offset < content.Length);

        SmtpReply? final = null;
        for (var i = 0; i < sent; i++)
        {
            final = await ExpectAsync(reader, ct);
            if (final.Class != 2)
            {
                return new MessageFate(message, final, "refused during BDAT");
            }
        }

        return new MessageFate(message, final, "delivered");
    }

    /// <summary>Writes content with RFC 5321 4.5.2 transparency and the terminating dot line.</summary>
    internal static async Task WriteStuffedAsync(Stream stream, ReadOnlyMemory<byte> content, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            var read = 0;
            var atLineStart = true;
            while (read < content.Length)
            {
                var used = Stuff(content.Span[read..], buffer, ref atLineStart, out var taken);
                read += taken;
                await stream.WriteAsync(buffer.AsMemory(0, used), ct);
            }

            byte[] tail = content.IsEmpty || content.Span.EndsWith("\r\n"u8) ? [.. ".\r\n"u8] : [.. "\r\n.\r\n"u8];
            await stream.WriteAsync(tail, ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int Stuff(ReadOnlySpan<byte> source, byte[] destination, ref bool atLineStart, out int taken)
    {
        var used = 0;
        taken = 0;
        while (taken < source.Length && used < destination.Length - 1)
        {
            var b = source[taken++];
            if (atLineStart && b == (byte)'.')
            {
                destination[used++] = (byte)'.';
            }

            destination[used++] = b;
            atLineStart = b == (byte)'\n';
        }

        return used;
    }

    private static List<MessageFate> Refuse(IReadOnlyList<LabMessage> messages, SmtpReply reply, string stage) =>
        [.. messages.Select(m => new MessageFate(m, reply, $"refused at {stage}"))];

    private static async Task<SmtpReply> ExpectAsync(PipeReader reader, CancellationToken ct) =>
        await SmtpLineReader.ReadReplyAsync(reader, MaxLine, ct) ?? throw new IOException("server closed the connection");

    private static Task WriteAsync(Stream stream, string text, CancellationToken ct) =>
        stream.WriteAsync(Encoding.UTF8.GetBytes(text), ct).AsTask();
}
