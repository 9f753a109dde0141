using System.Globalization;
using System.Reflection;
using System.Text;

namespace SmtpLens.Tests.Support;

/// <summary>A recorded SMTP dialogue, as stored in the embedded <c>Dialogues/*.txt</c> resources.</summary>
/// <remarks>
/// One step per line, in the order the bytes travelled:
/// <list type="bullet">
/// <item><c>C: text</c> / <c>S: text</c>: a client / server line; CRLF is appended. <c>C:</c> alone is an empty line.</item>
/// <item><c>C&gt; text</c> / <c>S&gt; text</c>: raw bytes, nothing appended; escapes <c>\r \n \t \0 \\ \xHH</c>.</item>
/// <item><c>C# hex</c> / <c>S# hex</c>: raw bytes as hex pairs, spaces ignored (binary BDAT chunks).</item>
/// <item><c>C! close</c> / <c>S! close</c>: that peer closes the connection.</item>
/// <item>Lines starting with <c>#</c> and blank lines are comments.</item>
/// </list>
/// Text after <c>C: </c> is UTF-8. The driver decides how the bytes of a turn are cut into reads.
/// </remarks>
internal sealed class DialogueScript
{
    private DialogueScript(string name, IReadOnlyList<ScriptStep> steps)
    {
        Name = name;
        Steps = steps;
    }

    public string Name { get; }

    public IReadOnlyList<ScriptStep> Steps { get; }

    /// <summary>Everything the client sends, in order.</summary>
    public byte[] ClientBytes => [.. Steps.Where(s => s.Peer == Peer.Client).SelectMany(s => s.Bytes)];

    /// <summary>Everything the server sends, in order.</summary>
    public byte[] ServerBytes => [.. Steps.Where(s => s.Peer == Peer.Server).SelectMany(s => s.Bytes)];

    /// <summary>Steps grouped into turns: consecutive data steps of one peer merge; a close stands alone.</summary>
    public IReadOnlyList<ScriptTurn> Turns
    {
        get
        {
            var turns = new List<ScriptTurn>();
            var i = 0;
            while (i < Steps.Count)
            {
                var step = Steps[i];
                if (step.IsClose)
                {
                    turns.Add(new ScriptTurn(step.Peer, [], true));
                    i++;
                    continue;
                }

                var bytes = new List<byte>();
                while (i < Steps.Count && Steps[i].Peer == step.Peer && !Steps[i].IsClose)
                {
                    bytes.AddRange(Steps[i].Bytes);
                    i++;
                }

                turns.Add(new ScriptTurn(step.Peer, [.. bytes], false));
            }

            return turns;
        }
    }

    /// <summary>Names of the embedded dialogues, without folder or extension (<c>postfix-esmtp</c>).</summary>
    public static IReadOnlyList<string> EmbeddedNames()
    {
        const string prefix = "SmtpLens.Tests.Dialogues.";
        return [.. typeof(DialogueScript).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".txt", StringComparison.Ordinal))
            .Select(n => n[prefix.Length..^".txt".Length])
            .Order(StringComparer.Ordinal)];
    }

    public static DialogueScript Load(string name)
    {
        var resource = $"SmtpLens.Tests.Dialogues.{name}.txt";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"no embedded dialogue {resource}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return Parse(name, reader.ReadToEnd());
    }

    public static DialogueScript Parse(string name, string text)
    {
        var steps = new List<ScriptStep>();
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line.Length < 2 || line[0] is not ('C' or 'S'))
            {
                throw new FormatException($"{name}:{lineNumber}: a step starts with C or S: \"{line}\"");
            }

            var peer = line[0] == 'C' ? Peer.Client : Peer.Server;
            var rest = line.Length > 2 ? line[2..] : string.Empty;
            if (rest.StartsWith(' '))
            {
                rest = rest[1..];
            }

            steps.Add(line[1] switch
            {
                ':' => new ScriptStep(peer, ':', Encoding.UTF8.GetBytes(rest + "\r\n"), lineNumber),
                '>' => new ScriptStep(peer, '>', Unescape(rest, name, lineNumber), lineNumber),
                '#' => new ScriptStep(peer, '#', Convert.FromHexString(rest.Replace(" ", string.Empty, StringComparison.Ordinal)), lineNumber),
                '!' when rest == "close" => new ScriptStep(peer, '!', [], lineNumber),
                _ => throw new FormatException($"{name}:{lineNumber}: unknown step \"{line}\""),
            });
        }

        return new DialogueScript(name, steps);
    }

    /// <summary>Turns the escapes of a <c>C&gt;</c> line into bytes; everything else is UTF-8.</summary>
    public static byte[] Unescape(string text, string name = "inline", int lineNumber = 0)
    {
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
                continue;
            }

            if (++i >= text.Length)
            {
                throw new FormatException($"{name}:{lineNumber}: dangling backslash");
            }

            switch (text[i])
            {
                case 'r': bytes.Add((byte)'\r'); break;
                case 'n': bytes.Add((byte)'\n'); break;
                case 't': bytes.Add((byte)'\t'); break;
                case '0': bytes.Add(0); break;
                case '\\': bytes.Add((byte)'\\'); break;
                case 'x' when i + 2 < text.Length:
                    bytes.Add(byte.Parse(text.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 2;
                    break;
                default: throw new FormatException($"{name}:{lineNumber}: unknown escape \\{text[i]}");
            }
        }

        return [.. bytes];
    }
}
