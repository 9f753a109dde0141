using System.Diagnostics;
using System.Runtime.InteropServices;
using Org.BouncyCastle.Tls;
using SmtpLens.Tls;

namespace SmtpLens.Bench.Handshake;

/// <summary>CPU per TLS handshake on each of SmtpLens's two legs, engine against engine in one thread.</summary>
/// <remarks>Both peers run on this thread, driven byte for byte through BouncyCastle's non-blocking API, and only
/// the calls into SmtpLens's side are timed, by the thread's CPU clock: the other peer and a busy machine do not
/// count. The upstream leg (SmtpLens as client) also checks the upstream chain as the interceptor does.</remarks>
internal static class Program
{
    private static int Main(string[] args)
    {
        var count = 300;
        var version = "1.2";
        var resume = false;
        var leaves = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--count": count = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--tls": version = args[++i]; break;
                case "--leaf": leaves.Add(args[++i]); break;
                case "--resume": resume = true; break;
                default:
                    Console.Error.WriteLine("usage: tls-handshake [--count N] [--tls 1.2|1.3] [--leaf ecdsa|rsa]... [--resume]");
                    return 2;
            }
        }

        if (leaves.Count == 0)
        {
            leaves = ["rsa", "ecdsa"];
        }

        var max = version == "1.3" ? 0x0304 : 0x0303;
        var policy = max == 0x0304 ? TlsPolicy.Parse(false, ["tls1.2", "tls1.3"], null) : TlsPolicy.Default;
        var time = TimeProvider.System;
        using var realCa = CertificateAuthority.CreateEphemeral(time, "Bench Upstream CA");
        var upstream = realCa.Issue("mx.bench.invalid", ["mx.bench.invalid"], time.GetUtcNow().AddDays(-1), time.GetUtcNow().AddDays(30));
        using var ca = CertificateAuthority.CreateEphemeral(time);
        if (resume && max != 0x0303)
        {
            Console.Error.WriteLine("--resume: SmtpLens resumes TLS 1.2 sessions only");
            return 2;
        }

        var interceptor = new Measured(policy, upstream, time) { Resume = resume };

        Console.WriteLine($"TLS {version}{(resume ? ", client leg resumed by session ID after one full handshake" : string.Empty)}, {count} handshakes per cell after 30 warm-up; CPU of SmtpLens's side only (thread CPU clock), ms per handshake");
        Console.WriteLine($"{"leaf",-6}{"client leg (server) median",28}{"p90",8}{"upstream leg (client) median",30}{"p90",8}{"sum",8}");
        foreach (var leaf in leaves)
        {
            var forged = Forge(ca, upstream, leaf);
            interceptor.Run(forged, 30);
            var (server, client) = interceptor.Run(forged, count);
            server.Sort();
            client.Sort();
            double Median(List<double> v) => v[v.Count / 2];
            double P90(List<double> v) => v[(int)(v.Count * 0.9)];
            Console.WriteLine($"{leaf,-6}{Median(server),28:0.000}{P90(server),8:0.000}{Median(client),30:0.000}{P90(client),8:0.000}{Median(server) + Median(client),8:0.000}");
        }

        return 0;
    }

    private static TlsIdentity Forge(CertificateAuthority ca, TlsIdentity upstream, string leaf) => leaf switch
    {
        "rsa" => ca.ForgeFor(upstream.ChainDer, "mx.bench.invalid"),
        "ecdsa" => ca.ForgeFor(upstream.ChainDer, "mx.bench.invalid", ecdsa: true),
        _ => throw new ArgumentException($"unknown leaf type {leaf}"),
    };

    private sealed class Measured(TlsPolicy policy, TlsIdentity upstream, TimeProvider time)
    {
        private readonly UpstreamChainCache _upstreamChains = new();
        private readonly ClientSessionCache _sessions = new(time);
        private readonly Dictionary<TlsIdentity, TlsSession> _senderSessions = [];

        /// <summary>The sender resumes the client leg's session (TLS 1.2 session ID), as a caching MTA does.</summary>
        public bool Resume { get; init; }

        public (List<double> Server, List<double> Client) Run(TlsIdentity forged, int count)
        {
            var server = new List<double>(count);
            var client = new List<double>(count);
            Org.BouncyCastle.Utilities.Properties.SetThreadInt32(Org.BouncyCastle.Utilities.Properties.RsaMaxMRTests, 0);
            for (var i = 0; i < count; i++)
            {
                server.Add(ClientLeg(forged));
                client.Add(UpstreamLeg());
            }

            return (server, client);
        }

        /// <summary>SmtpLens as the server presenting the forged leaf; the sender is an engine client.</summary>
        private double ClientLeg(TlsIdentity forged)
        {
            var senderEvents = new TlsPeerEvents(new TlsLegRecord("sender", "client"), time);
            var resuming = Resume ? new ResumingSender(senderEvents.CreateCrypto(), _senderSessions.GetValueOrDefault(forged)) : null;
            TlsClient sender = resuming ?? (TlsClient)new UpstreamTlsClient(senderEvents.CreateCrypto(), policy, "mx.bench.invalid", null, _ => { }, senderEvents);
            var oursEvents = new TlsPeerEvents(new TlsLegRecord("client", "server"), time);
            var ours = new InterceptingTlsServer(oursEvents.CreateCrypto(), policy, forged, false, null, oursEvents)
            {
                Resumption = Resume ? new ClientSessionResumption(_sessions, ClientSessionCache.Binding("bench", "mx.bench.invalid", forged), forged.Summaries[0].NotAfter) : null,
            };
            var clock = ThreadCpu.Now();
            oursEvents.Record.ServerCertificates.AddRange(forged.Summaries);
            var clientProtocol = new TlsClientProtocol();
            clientProtocol.Connect(sender);
            var serverProtocol = new TlsServerProtocol();
            var spent = ThreadCpu.Now() - clock;
            clock = ThreadCpu.Now();
            serverProtocol.Accept(ours);
            spent += ThreadCpu.Now() - clock;
            Pump(clientProtocol, serverProtocol, measureSecond: true, ref spent, () => (resuming?.Completed ?? senderEvents.HandshakeComplete) && oursEvents.HandshakeComplete);
            if (resuming is not null)
            {
                // The first handshake is full; every later one must have resumed, or the figure would be wrong.
                if (_senderSessions.ContainsKey(forged) != oursEvents.Record.Resumed)
                {
                    throw new InvalidOperationException("the client leg did not resume");
                }

                _senderSessions.TryAdd(forged, resuming.Session!);
            }

            return spent.TotalMilliseconds;
        }

        /// <summary>SmtpLens as the client; the upstream is an engine server with an RSA-2048 certificate.</summary>
        private double UpstreamLeg()
        {
            var leg = new TlsLegRecord("upstream", "client");
            var oursEvents = new TlsPeerEvents(leg, time);
            var chain = new List<byte[]>();
            var ours = new UpstreamTlsClient(oursEvents.CreateCrypto(), policy, "mx.bench.invalid", null, certificate =>
            {
                // What TlsInterceptor does with the upstream's certificate inside the handshake.
                chain.AddRange(TlsPeerEvents.Der(certificate));
                leg.ServerCertificatesDer = chain;
                var seen = _upstreamChains.For(chain);
                leg.ServerCertificates.AddRange(seen.Summaries);
                UpstreamValidation.Check(leg, chain, "mx.bench.invalid", time.GetUtcNow(), null, seen);
            }, oursEvents);
            var upstreamEvents = new TlsPeerEvents(new TlsLegRecord("mx", "server"), time);
            var server = new InterceptingTlsServer(upstreamEvents.CreateCrypto(), policy, upstream, false, null, upstreamEvents);
            var spent = TimeSpan.Zero;
            var clock = ThreadCpu.Now();
            var clientProtocol = new TlsClientProtocol();
            clientProtocol.Connect(ours);
            spent += ThreadCpu.Now() - clock;
            var serverProtocol = new TlsServerProtocol();
            serverProtocol.Accept(server);
            Pump(clientProtocol, serverProtocol, measureSecond: false, ref spent, () => oursEvents.HandshakeComplete && upstreamEvents.HandshakeComplete);
            return spent.TotalMilliseconds;
        }

        private static void Pump(TlsProtocol first, TlsProtocol second, bool measureSecond, ref TimeSpan spent, Func<bool> done)
        {
            var buffer = new byte[64 * 1024];
            for (var rounds = 0; !done(); rounds++)
            {
                if (rounds > 50)
                {
                    throw new InvalidOperationException("handshake did not complete");
                }

                spent += Move(first, second, buffer, measureSecond);
                spent += Move(second, first, buffer, !measureSecond);
            }
        }

        /// <summary>Moves pending output of <paramref name="from"/> into <paramref name="to"/>, timing the side that is ours.</summary>
        private static TimeSpan Move(TlsProtocol from, TlsProtocol to, byte[] buffer, bool measureTo)
        {
            var n = from.GetAvailableOutputBytes();
            if (n == 0)
            {
                return TimeSpan.Zero;
            }

            var data = n <= buffer.Length ? buffer : new byte[n];
            var clock = ThreadCpu.Now();
            from.ReadOutput(data, 0, n);
            var readCost = ThreadCpu.Now() - clock;
            clock = ThreadCpu.Now();
            to.OfferInput(data, 0, n);
            var offerCost = ThreadCpu.Now() - clock;
            return measureTo ? offerCost : readCost;
        }
    }
}

/// <summary>A TLS 1.2 sender that offers the session it was given, and keeps the one it got.</summary>
internal sealed class ResumingSender(Org.BouncyCastle.Tls.Crypto.TlsCrypto crypto, TlsSession? session) : DefaultTlsClient(crypto)
{
    public bool Completed { get; private set; }

    public TlsSession? Session { get; private set; }

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.TLSv12.Only();

    public override TlsSession? GetSessionToResume() => session;

    public override TlsAuthentication GetAuthentication() => new AnyServer();

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        Session = m_context.Session;
        Completed = true;
    }

    private sealed class AnyServer : ServerOnlyTlsAuthentication
    {
        public override void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
        }
    }
}

/// <summary>CLOCK_THREAD_CPUTIME_ID: CPU time of the calling thread.</summary>
internal static partial class ThreadCpu
{
    private const int ClockThreadCpuTime = 3;

    public static TimeSpan Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Stopwatch.GetElapsedTime(0);
        }

        _ = ClockGetTime(ClockThreadCpuTime, out var ts);
        return TimeSpan.FromTicks((ts.Seconds * TimeSpan.TicksPerSecond) + (ts.Nanoseconds / 100));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);
}
