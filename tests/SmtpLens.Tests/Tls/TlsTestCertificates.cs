using SmtpLens.Tests.Support;
using SmtpLens.Tls;

namespace SmtpLens.Tests.Tls;

/// <summary>Ephemeral CAs shared by the certificate tests: RSA key generation is the slow part, so make each once.</summary>
internal static class TlsTestCertificates
{
    /// <summary>The clock every CA here was made with; CA validity runs from 2000-01-01 to ten years after this.</summary>
    public static readonly DateTimeOffset Now = new(2025, 11, 17, 10, 15, 0, TimeSpan.Zero);

    private static readonly Lazy<CertificateAuthority> InterceptionCa = new(() => CertificateAuthority.CreateEphemeral(new FakeTimeProvider(Now)));
    private static readonly Lazy<CertificateAuthority> PublicCa = new(() => CertificateAuthority.CreateEphemeral(new FakeTimeProvider(Now), "Example Public Root"));

    /// <summary>Plays SmtpLens's interception CA.</summary>
    public static CertificateAuthority Interception => InterceptionCa.Value;

    /// <summary>Plays the real upstream's (untrusted, unrelated) CA.</summary>
    public static CertificateAuthority Upstream => PublicCa.Value;

    /// <summary>The DER chain, leaf first, of an identity an ephemeral CA issued.</summary>
    public static byte[][] Der(TlsIdentity identity) => [.. identity.ChainDer];
}
