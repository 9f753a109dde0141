using System.Net;
using FsCheck;
using FsCheck.Fluent;
using SmtpLens.Net;

namespace SmtpLens.Tests.Net;

/// <summary>Round trips through the writer, and random or mutated bytes that must never crash or over-read.</summary>
public sealed class ProxyHeaderProperties
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(500).WithQuietOnSuccess(true);

    private static readonly Gen<IPEndPoint> V4 = Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), 4)
        .Zip(Gen.Choose(0, 65535), (b, port) => new IPEndPoint(new IPAddress(b), port));

    private static readonly Gen<IPEndPoint> V6 = Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), 16)
        .Where(b => !new IPAddress(b).IsIPv4MappedToIPv6)
        .Zip(Gen.Choose(0, 65535), (b, port) => new IPEndPoint(new IPAddress(b), port));

    private static readonly Arbitrary<(int Version, IPEndPoint Source, IPEndPoint Destination)> Headers =
        Gen.Elements(1, 2).SelectMany(version => Gen.OneOf(
            V4.Zip(V4, (s, d) => (version, s, d)),
            V6.Zip(V6, (s, d) => (version, s, d)))).ToArbitrary();

    /// <summary>Bytes near the signatures, so the parser's deeper branches see random input too.</summary>
    private static readonly Arbitrary<byte[]> Noise = Gen.OneOf(
        Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i)),
        Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i)).Select(tail => (byte[])[.. ProxyHeaderParser.V2Signature, .. tail]),
        Gen.ArrayOf(Gen.Elements("0123456789.: ABCDEFKNOPTUWX\r\n"u8.ToArray())).Select(tail => (byte[])[.. "PROXY "u8, .. tail])).ToArbitrary();

    [Fact]
    public void WriteThenParse_GivesTheSameEndpointsAndConsumesExactlyTheHeader()
    {
        Check.One(Runs, Prop.ForAll(Headers, h =>
        {
            var bytes = ProxyHeaderWriter.Write(h.Version, h.Source, h.Destination);
            var result = ProxyHeaderParser.Parse([.. bytes, .. "EHLO x\r\n"u8]);
            return result.Status == ProxyParseStatus.Complete
                && result.Length == bytes.Length
                && result.Header!.Version == h.Version
                && result.Header.Source!.Equals(h.Source)
                && result.Header.Destination!.Equals(h.Destination)
                && (h.Version == 2 || bytes.Length <= ProxyHeaderParser.V1MaxLength);
        }));
    }

    [Fact]
    public void EveryProperPrefixOfAHeader_AsksForMoreButNeverPastTheHeader()
    {
        Check.One(Runs, Prop.ForAll(Headers, h =>
        {
            var bytes = ProxyHeaderWriter.Write(h.Version, h.Source, h.Destination);
            for (var have = 0; have < bytes.Length; have++)
            {
                var result = ProxyHeaderParser.Parse(bytes.AsSpan(0, have));
                if (result.Status != ProxyParseStatus.NeedMore || result.Length <= have || result.Length > bytes.Length)
                {
                    return false;
                }
            }

            return true;
        }));
    }

    [Fact]
    public void RandomBytes_NeverThrowAndStayWithinBounds()
    {
        Check.One(Runs, Prop.ForAll(Noise, bytes =>
        {
            var result = ProxyHeaderParser.Parse(bytes);
            return result.Status switch
            {
                ProxyParseStatus.Complete => result.Length <= bytes.Length && result.Header is not null,
                ProxyParseStatus.NeedMore => result.Length > bytes.Length && result.Length <= ProxyHeaderParser.V2FixedLength + 65535,
                _ => result.Error is { Length: > 0 },
            };
        }));
    }

    [Fact]
    public void FlippingAnyByteOfAV2Header_NeverThrows()
    {
        var header = ProxyHeaderWriter.WriteV2(IPEndPoint.Parse("192.0.2.1:1025"), IPEndPoint.Parse("198.51.100.2:25"));
        var mutations = Gen.Choose(0, header.Length - 1).Zip(Gen.Choose(0, 255)).ToArbitrary();

        Check.One(Runs, Prop.ForAll(mutations, m =>
        {
            var copy = (byte[])header.Clone();
            copy[m.Item1] = (byte)m.Item2;
            var result = ProxyHeaderParser.Parse(copy);
            return result.Status != ProxyParseStatus.Complete || result.Length <= copy.Length;
        }));
    }
}
