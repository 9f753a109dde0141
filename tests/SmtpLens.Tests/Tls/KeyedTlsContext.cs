using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;

namespace SmtpLens.Tests.Tls;

/// <summary>
/// Just enough of a negotiated TLS 1.2 connection for a record cipher: secrets, PRF and which end we are.
/// BouncyCastle's own contexts are internal, and its SecurityParameters getters are virtual, so this stands in for both.
/// </summary>
internal sealed class KeyedTlsContext(SecurityParameters parameters, bool isServer) : TlsContext
{
    public SecurityParameters SecurityParameters => parameters;

    public bool IsServer => isServer;

    public ProtocolVersion ClientVersion => ProtocolVersion.TLSv12;

    public ProtocolVersion ServerVersion => ProtocolVersion.TLSv12;

    /// <summary>GCM draws no randomness; CBC does (its explicit IVs), for the factory's fall-through cases.</summary>
    public IRandomGenerator NonceRandomGenerator { get; } = new CryptoApiRandomGenerator();

    public SecureRandom SecureRandom { get; } = new();

    public TlsSession ResumableSession => throw new NotSupportedException();

    public object? UserObject { get; set; }

    public byte[] ExportKeyingMaterial(string asciiLabel, byte[] context_value, int length) => throw new NotSupportedException();

    /// <summary>The two ends of one connection whose secrets come from <paramref name="random"/>.</summary>
    public static (KeyedTlsContext Client, KeyedTlsContext Server) Pair(Random random, int prfAlgorithm)
    {
        var parameters = new FixedSecurityParameters(Bytes(random, 48), Bytes(random, 32), Bytes(random, 32), prfAlgorithm);
        return (new KeyedTlsContext(parameters, isServer: false), new KeyedTlsContext(parameters, isServer: true));
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private sealed class FixedSecurityParameters(byte[] masterSecret, byte[] clientRandom, byte[] serverRandom, int prfAlgorithm) : SecurityParameters
    {
        public override int PrfAlgorithm => prfAlgorithm;

        public override byte[] MasterSecret => masterSecret;

        public override byte[] ClientRandom => clientRandom;

        public override byte[] ServerRandom => serverRandom;
    }
}
