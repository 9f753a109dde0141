namespace SmtpLens.Tests.Support;

/// <summary>An independent reference for RFC 5321 4.5.2, as a client does it: a dot at the start of a line gets
/// another, and the terminator follows. Tests compare the proxy and parsers against it, not against the lab client.</summary>
internal static class DotStuffing
{
    public static byte[] Stuff(byte[] content)
    {
        var wire = new List<byte>(content.Length + 16);
        for (var i = 0; i < content.Length; i++)
        {
            if (content[i] == (byte)'.' && (i == 0 || (i >= 2 && content[i - 1] == (byte)'\n' && content[i - 2] == (byte)'\r')))
            {
                wire.Add((byte)'.');
            }

            wire.Add(content[i]);
        }

        wire.AddRange(".\r\n"u8.ToArray());
        return [.. wire];
    }
}
