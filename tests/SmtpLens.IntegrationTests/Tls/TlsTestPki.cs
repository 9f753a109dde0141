using System.Security.Cryptography.X509Certificates;
using SmtpLens.Tls;

namespace SmtpLens.IntegrationTests.Tls;

/// <summary>Certificates made at run time: a "real world" CA for upstreams, and SmtpLens's interception CA.</summary>
internal sealed class TlsTestPki : IDisposable
{
    public CertificateAuthority UpstreamCa { get; } = CertificateAuthority.CreateEphemeral(TimeProvider.System, "Test Upstream Root CA");

    public CertificateAuthority ProxyCa { get; } = CertificateAuthority.CreateEphemeral(TimeProvider.System, "SmtpLens Test Interception CA");

    public X509Certificate2 UpstreamCertificate(string cn, params string[] names) =>
        UpstreamCa.ToX509WithKey(UpstreamCa.Issue(cn, names.Length == 0 ? [cn] : names, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30)));

    public void Dispose()
    {
        UpstreamCa.Dispose();
        ProxyCa.Dispose();
    }
}
