using System.Text;
using SmtpLens.Findings;

namespace SmtpLens.Probe;

/// <summary>Findings for a terminal: worst first, headline, why, the likeliest causes, the next step, the evidence.</summary>
internal static class FindingText
{
    private const int Width = 110;
    private const string Indent = "           ";

    public static void Write(StringBuilder text, IReadOnlyList<Finding> findings)
    {
        foreach (var f in findings.OrderByDescending(f => f.Severity))
        {
            text.Append("  ").Append(Finding.SeverityName(f.Severity).ToUpperInvariant().PadRight(Indent.Length - 2)).Append(f.Code).Append(": ").Append(f.Title).Append('\n');
            Wrapped(text, "why: ", f.Explanation);
            foreach (var cause in f.Causes.Take(3))
            {
                Wrapped(text, "cause: ", cause);
            }

            if (f.Causes.Count > 3)
            {
                text.Append(Indent).Append($"(+{f.Causes.Count - 3} more causes in --json)\n");
            }

            Wrapped(text, "next: ", f.NextStep);
            foreach (var e in f.Evidence.Take(4))
            {
                Wrapped(text, $"#{e.Seq} ", e.Text);
            }
        }
    }

    /// <summary>Word-wrapped under the finding, continuation lines aligned after the label.</summary>
    public static void Wrapped(StringBuilder text, string label, string value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        var line = new StringBuilder(Indent).Append(label);
        var continuation = Indent + new string(' ', label.Length);
        foreach (var word in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length + 1 + word.Length > Width && line.Length > continuation.Length)
            {
                text.Append(line.ToString().TrimEnd()).Append('\n');
                line.Clear().Append(continuation);
            }

            line.Append(word).Append(' ');
        }

        text.Append(line.ToString().TrimEnd()).Append('\n');
    }
}
