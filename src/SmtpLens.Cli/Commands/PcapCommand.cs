using System.CommandLine;
using SmtpLens.Capture;
using SmtpLens.IO;

namespace SmtpLens.Cli.Commands;

/// <summary><c>smtplens pcap</c>: merge the per-session captures written by <c>--pcap</c> into one file.</summary>
internal static class PcapCommand
{
    public static Command Create()
    {
        var sources = new Argument<string[]>("DIR") { Arity = ArgumentArity.OneOrMore, Description = "Folders written by proxy --pcap or lab --pcap (every *.pcapng in them, recursively), or single .pcapng files." };
        var output = new Option<string>("--output", "-o") { HelpName = "FILE", Description = "The merged capture (created 0600: it holds the sessions' TLS secrets).", DefaultValueFactory = _ => "merged.pcapng" };
        var command = new Command(
            "pcap",
            "Merge sessions' pcapng captures into one: every leg keeps its own interface, the packets are interleaved by time, and every session's TLS secrets "
            + "(Decryption Secrets Blocks) come first, so Wireshark decrypts all of them on open (then: tshark -r merged.pcapng -Y smtp).")
        {
            sources, output,
        };
        command.SetAction(async parse =>
        {
            var path = Path.GetFullPath(parse.GetValue(output)!);
            var inputs = new List<string>();
            foreach (var source in parse.GetValue(sources) ?? [])
            {
                if (Directory.Exists(source))
                {
                    inputs.AddRange(Directory.EnumerateFiles(source, "*.pcapng", SearchOption.AllDirectories).Where(f => Path.GetFullPath(f) != path).Order(StringComparer.Ordinal));
                }
                else if (File.Exists(source))
                {
                    inputs.Add(source);
                }
                else
                {
                    await Console.Error.WriteLineAsync($"smtplens pcap: {source}: no such folder or file");
                    return ExitCodes.Usage;
                }
            }

            if (inputs.Count == 0)
            {
                await Console.Error.WriteLineAsync("smtplens pcap: no .pcapng files found");
                return ExitCodes.Usage;
            }

            // Written beside the target, then renamed: a reader never sees half a file.
            var partial = path + ".partial";
            PcapngMerge.Result result;
            try
            {
                await using (var file = PrivateFiles.Open(partial, FileMode.Create, bufferSize: 1024 * 1024))
                {
                    result = PcapngMerge.Merge(inputs, file);
                }

                File.Move(partial, path, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                File.Delete(partial);
                await Console.Error.WriteLineAsync($"smtplens pcap: {e.Message}");
                return ExitCodes.Usage;
            }

            Console.WriteLine($"{path}: {result.Files} capture(s), {result.Interfaces} interface(s), {result.SecretsBlocks} secrets block(s), {result.Packets} packet(s)");
            return ExitCodes.Ok;
        });
        return command.WithExample("smtplens pcap captures/ -o merged.pcapng", "Exit codes: 0 merged, 2 usage error or unreadable capture.");
    }
}
