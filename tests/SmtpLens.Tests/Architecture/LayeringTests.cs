using System.Text.RegularExpressions;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Architecture;

/// <summary>
/// The folders under src/SmtpLens.Core are layers: a file may name types of its own folder and of the folders
/// below it, never of one above. docs/architecture.md draws the same order.
/// </summary>
public sealed partial class LayeringTests
{
    /// <summary>Bottom first. A new folder goes where its references put it: above everything it names.</summary>
    internal static readonly string[] Layers =
    [
        "Protocol",      // SMTP lines, commands, replies: pure parsers
        "IO",            // line reader, pipe streams, private files
        "Transcripts",   // the event vocabulary and its file formats
        "Tls",           // handshake parsing, interception, the TLS engine
        "Capture",       // pcapng captures of both legs, from socket taps
        "StateMachine",  // the dialogue, transactions, how a session ends
        "Findings",      // detectors over transcript events
        "Net",           // addresses, PROXY protocol, sockets, MX resolution
        "Simulation",    // deliberate middlebox behaviour
        "Configuration", // settings that name listeners, routes, simulations
        "Connectors",    // which inbound connector a session would hit
        "Policy",        // what each sending TLS policy would decide (Postfix, DANE, MTA-STS, Exchange Online)
        "Relay",         // one session: two legs, dialogue, TLS, findings, summary
        "Proxy",         // the listener: accepts connections and runs sessions
        "Report",        // the HTML incident report over transcripts
        "TlsRpt",        // RFC 8460 reports over recorded policy verdicts
        "Probe",         // active probe and diff, one dialogue of its own
        "Lab",           // loopback upstream, client and scenarios over all of the above
    ];

    private static readonly string CoreRoot = SourceTree.PathOf("src", "SmtpLens.Core");

    [Fact]
    public void EveryCoreFolder_HasAPlaceInTheLayerOrder()
    {
        var folders = Directory.GetDirectories(CoreRoot)
            .Select(Path.GetFileName)
            .Where(n => n is not ("bin" or "obj"))
            .ToList();

        Assert.NotEmpty(folders);
        Assert.All(folders, f => Assert.True(Layers.Contains(f), $"src/SmtpLens.Core/{f}/ is not in LayeringTests.Layers: add it above every folder it uses"));
        Assert.Empty(Directory.GetFiles(CoreRoot, "*.cs"));
    }

    [Fact]
    public void NoCoreFile_ReachesUpALayer()
    {
        var backEdges = BackEdges(CoreSources()).ToList();

        Assert.True(backEdges.Count == 0, "back-edges (a layer naming one above it):\n" + string.Join('\n', backEdges));
    }

    [Fact]
    public void BackEdges_NamesTheFileAndTheEdge_ForEachWayOfReferring()
    {
        var sources = new[]
        {
            new CoreSource("Relay/SmtpSession.cs", "namespace SmtpLens.Relay;\ninternal sealed class SmtpSession;\ninternal enum SessionEndReason { Quit }"),
            new CoreSource("Protocol/ByUsing.cs", "using SmtpLens.Relay;\nnamespace SmtpLens.Protocol;\ninternal sealed class A;"),
            new CoreSource("Protocol/ByFullName.cs", "namespace SmtpLens.Protocol;\ninternal sealed class B { SmtpLens.Relay.SmtpSession? S; }"),
            new CoreSource("IO/ByPartialName.cs", "namespace SmtpLens.IO;\ninternal sealed class C { Relay.SessionEndReason R; }"),
            new CoreSource("IO/ByAlias.cs", "using Session = SmtpLens.Relay.SmtpSession;\nnamespace SmtpLens.IO;\ninternal sealed class D;"),
            new CoreSource("Lab/Down.cs", "using SmtpLens.Relay;\nusing SmtpLens.Protocol;\nnamespace SmtpLens.Lab;\ninternal sealed class E { Relay.SmtpSession? S; }"),
            new CoreSource("Protocol/NotAType.cs", "namespace SmtpLens.Protocol;\ninternal sealed class F { int N => Relay.Count + Findings.Length; }"),
        };

        var edges = BackEdges(sources).ToList();

        Assert.Equal(
            [
                "IO/ByAlias.cs -> Relay (SmtpLens.Relay.SmtpSession)",
                "IO/ByPartialName.cs -> Relay (Relay.SessionEndReason)",
                "Protocol/ByFullName.cs -> Relay (SmtpLens.Relay.SmtpSession)",
                "Protocol/ByUsing.cs -> Relay (SmtpLens.Relay)",
            ],
            edges);
    }

    /// <summary>Every reference from a file to a folder above its own, as "file -> folder (how it was named)".</summary>
    internal static IEnumerable<string> BackEdges(IReadOnlyList<CoreSource> sources)
    {
        var typesByLayer = sources
            .GroupBy(s => s.Layer)
            .ToDictionary(g => g.Key, g => g.SelectMany(s => TypeDeclaration().Matches(s.Text).Select(m => m.Groups["name"].Value)).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);

        var edges = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            var rank = Rank(source.Layer);
            foreach (Match m in QualifiedName().Matches(source.Text))
            {
                var target = m.Groups["layer"].Value;
                if (target == source.Layer || Array.IndexOf(Layers, target) is var targetRank && (targetRank < 0 || targetRank < rank))
                {
                    continue;
                }

                var rest = m.Groups["rest"].Value.Split('.', StringSplitOptions.RemoveEmptyEntries);
                var fullyQualified = m.Groups["root"].Success;

                // Within namespace SmtpLens.X, "Relay.Foo" also reaches SmtpLens.Relay; count it only when Foo is a
                // type declared there, so a property called Relay or Findings is not mistaken for the folder.
                if (!fullyQualified && !rest.Any(part => typesByLayer.TryGetValue(target, out var types) && types.Contains(part)))
                {
                    continue;
                }

                edges.Add($"{source.Path} -> {target} ({m.Value.Trim()})");
            }
        }

        return edges;
    }

    private static int Rank(string layer) =>
        Array.IndexOf(Layers, layer) is var i and >= 0 ? i : throw new InvalidOperationException($"{layer} is not in LayeringTests.Layers");

    private static List<CoreSource> CoreSources() =>
        Directory.EnumerateFiles(CoreRoot, "*.cs", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(CoreRoot, p).Replace('\\', '/'))
            .Where(p => !p.StartsWith("bin/", StringComparison.Ordinal) && !p.StartsWith("obj/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(p => new CoreSource(p, File.ReadAllText(Path.Combine(CoreRoot, p))))
            .ToList();

    // "SmtpLens.Relay", "SmtpLens.Relay.SmtpSession", "Relay.SmtpSession" or "Tls.Engine.TlsEngine"; not "System.Net.X".
    [GeneratedRegex(@"(?<![\w.])(?<root>SmtpLens\.)?(?<layer>[A-Z]\w*)(?<rest>(?:\.[A-Z]\w*)*)", RegexOptions.CultureInvariant)]
    private static partial Regex QualifiedName();

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+(?<name>[A-Z]\w*)", RegexOptions.CultureInvariant)]
    private static partial Regex TypeDeclaration();

    /// <summary>One file under src/SmtpLens.Core: its path from there (its first folder is its layer) and its text.</summary>
    internal sealed record CoreSource(string Path, string Text)
    {
        public string Layer => Path.Split('/')[0];
    }
}
