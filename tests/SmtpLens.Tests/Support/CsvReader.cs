using System.Text;

namespace SmtpLens.Tests.Support;

/// <summary>A small, strict RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks;
/// a quote anywhere else, or text after a closing quote, is an error rather than guessed at.</summary>
internal static class CsvReader
{
    public static IReadOnlyList<IReadOnlyList<string>> ReadRecords(string text)
    {
        var records = new List<IReadOnlyList<string>>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var inQuotes = false;
        var afterQuote = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inQuotes)
            {
                if (c != '"')
                {
                    field.Append(c);
                }
                else if (i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else
                {
                    inQuotes = false;
                    afterQuote = true;
                }

                continue;
            }

            if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
                afterQuote = false;
            }
            else if (c == '\n' || (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n'))
            {
                i += c == '\r' ? 1 : 0;
                fields.Add(field.ToString());
                records.Add(fields);
                fields = [];
                field.Clear();
                afterQuote = false;
            }
            else if (afterQuote)
            {
                throw new FormatException($"text after a closing quote at offset {i}");
            }
            else if (c == '"')
            {
                if (field.Length > 0)
                {
                    throw new FormatException($"quote inside an unquoted field at offset {i}");
                }

                inQuotes = true;
            }
            else
            {
                field.Append(c);
            }
        }

        if (inQuotes)
        {
            throw new FormatException("unterminated quoted field");
        }

        if (field.Length > 0 || fields.Count > 0 || afterQuote)
        {
            fields.Add(field.ToString());
            records.Add(fields);
        }

        return records;
    }
}
