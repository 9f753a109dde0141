using System.Buffers;
using SmtpLens.Protocol;

namespace SmtpLens.Tests.Support;

/// <summary>Collects what <see cref="DataContentScanner"/> emits as message content.</summary>
internal sealed class CollectingSink : IMessageContentSink
{
    private readonly ArrayBufferWriter<byte> _content = new();

    public int Writes { get; private set; }

    public byte[] Content => _content.WrittenSpan.ToArray();

    public void Write(ReadOnlySpan<byte> content)
    {
        Writes++;
        _content.Write(content);
    }
}
