using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Crypto.Tls;
using Org.BouncyCastle.Security;

namespace SmtpLens.Bench.CipherThroughput;

/// <summary>One end of a negotiated TLS 1.2 connection with random secrets: all a record cipher reads.</summary>
internal sealed class BenchContext(SecurityParameters parameters, bool isServer) : TlsContext
{
    public SecurityParameters SecurityParameters => parameters;

    public bool IsServer => isServer;

    public ProtocolVersion ClientVersion => ProtocolVersion.TLSv12;

    public ProtocolVersion ServerVersion => ProtocolVersion.TLSv12;

    public IRandomGenerator NonceRandomGenerator { get; } = new CryptoApiRandomGenerator();

    public SecureRandom SecureRandom { get; } = new();

    public TlsSession ResumableSession => throw new NotSupportedException();

    public object? UserObject { get; set; }

    public byte[] ExportKeyingMaterial(string asciiLabel, byte[] context_value, int length) => throw new NotSupportedException();

    public static (BenchContext Client, BenchContext Server) Pair(int prfAlgorithm)
    {
        var parameters = new RandomSecrets(prfAlgorithm);
        return (new BenchContext(parameters, isServer: false), new BenchContext(parameters, isServer: true));
    }

    /// <summary>BouncyCastle's fields are internal but its getters virtual.</summary>
    private sealed class RandomSecrets(int prfAlgorithm) : SecurityParameters
    {
        private readonly byte[] _master = System.Security.Cryptography.RandomNumberGenerator.GetBytes(48);
        private readonly byte[] _client = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        private readonly byte[] _server = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

        public override int PrfAlgorithm => prfAlgorithm;

        public override byte[] MasterSecret => _master;

        public override byte[] ClientRandom => _client;

        public override byte[] ServerRandom => _server;
    }
}
