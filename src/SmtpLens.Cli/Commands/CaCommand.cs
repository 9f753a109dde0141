using System.CommandLine;
using SmtpLens.Tls;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens ca</c>: the interception CA.</summary>
internal static class CaCommand
{
    public static Command Create()
    {
        var command = new Command("ca", "Create or show the CA that signs SmtpLens's interception certificates.").WithExample("smtplens ca init --dir certs");
        command.Subcommands.Add(CreateInit());
        command.Subcommands.Add(CreateShow());
        return command;
    }

    private static Option<string> DirOption() =>
        new("--dir", "-d") { HelpName = "DIR", Description = "CA directory.", DefaultValueFactory = _ => "certs" };

    private static Command CreateInit()
    {
        var dir = DirOption();
        var force = new Option<bool>("--force") { Description = "Replace an existing CA (every MTA that trusted the old one must be updated)." };
        var command = new Command("init", "Create a CA: smtplens-ca.pem (certificate) and smtplens-ca.key (private key, mode 0600).") { dir, force };
        command.SetAction(async parse =>
        {
            var path = parse.GetValue(dir)!;
            try
            {
                using var ca = CertificateAuthority.Create(path, TimeProvider.System, parse.GetValue(force));
                Console.WriteLine($"created {Path.Combine(path, CertificateAuthority.CertificateFile)} and {Path.Combine(path, CertificateAuthority.KeyFile)} (mode 0600)");
                Print(ca, path);
                return ExitCodes.Ok;
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync($"smtplens ca init: {e.Message}");
                return ExitCodes.Usage;
            }
        });
        return command.WithExample("smtplens ca init --dir certs");
    }

    private static Command CreateShow()
    {
        var dir = DirOption();
        var command = new Command("show", "Print the CA's subject, validity and SHA-256 fingerprint, and how to make an MTA trust it.") { dir };
        command.SetAction(async parse =>
        {
            var path = parse.GetValue(dir)!;
            try
            {
                using var ca = CertificateAuthority.Load(path, TimeProvider.System);
                Print(ca, path);
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                await Console.Error.WriteLineAsync($"smtplens ca show: {e.Message}");
                return ExitCodes.Usage;
            }
        });
        return command.WithExample("smtplens ca show --dir certs");
    }

    private static void Print(CertificateAuthority ca, string dir)
    {
        var pem = Path.GetFullPath(Path.Combine(dir, CertificateAuthority.CertificateFile));
        Console.WriteLine($"subject:     {ca.Certificate.Subject}");
        Console.WriteLine($"valid:       {ca.Certificate.NotBefore:yyyy-MM-dd} .. {ca.Certificate.NotAfter:yyyy-MM-dd}");
        Console.WriteLine($"sha256:      {ca.Sha256Fingerprint}");
        Console.WriteLine($"certificate: {pem}");
        Console.WriteLine();
        Console.WriteLine("To make a lab MTA trust it:");
        Console.WriteLine($"  Postfix (sending):  postconf -e smtp_tls_CAfile={pem}");
        Console.WriteLine($"  Debian trust store: cp {pem} /usr/local/share/ca-certificates/smtplens-ca.crt && update-ca-certificates");
        Console.WriteLine($"  swaks:              swaks --tls --tls-verify --tls-ca-path {pem} ...");
        Console.WriteLine("Only trust it on lab or incident machines, and remove it afterwards.");
    }
}
