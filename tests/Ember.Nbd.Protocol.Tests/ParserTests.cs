using System.Buffers;
using Ember.Nbd.Protocol;

namespace Ember.Nbd.Protocol.Tests;

public class ParserTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>Splits bytes into one-byte segments so every parser path over multi-segment buffers is exercised.</summary>
    private static ReadOnlySequence<byte> Fragmented(byte[] bytes)
    {
        if (bytes.Length == 0)
            return ReadOnlySequence<byte>.Empty;
        var first = new Segment(bytes.AsMemory(0, 1), 0);
        var last = first;
        for (var i = 1; i < bytes.Length; i++)
            last = last.Append(bytes.AsMemory(i, 1));
        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    public static TheoryData<bool> Layouts => new() { true, false };

    private static ReadOnlySequence<byte> Seq(byte[] bytes, bool fragmented) => fragmented ? Fragmented(bytes) : new ReadOnlySequence<byte>(bytes);

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Request_round_trips(bool fragmented)
    {
        var bytes = Hex("25609513 0009 0007 1122334455667788 0000000000010000 00100000");
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseRequest(Seq(bytes, fragmented), out var r));
        Assert.Equal(new NbdRequest(NbdCommandFlags.Fua | NbdCommandFlags.ReqOne, NbdCommand.BlockStatus, 0x1122334455667788, 0x10000, 0x100000), r);
    }

    [Fact]
    public void Request_needs_28_bytes()
    {
        var bytes = Hex("25609513 0000 0000 1122334455667788 0000000000010000 001000");
        Assert.Equal(NbdParseStatus.NeedMoreData, NbdParser.TryParseRequest(new ReadOnlySequence<byte>(bytes), out _));
    }

    [Fact]
    public void Request_with_bad_magic_is_reported()
    {
        var bytes = Hex("25609514 0000 0000 1122334455667788 0000000000010000 00100000");
        Assert.Equal(NbdParseStatus.BadMagic, NbdParser.TryParseRequest(new ReadOnlySequence<byte>(bytes), out _));
    }

    [Theory]
    [InlineData("00000003", NbdParseStatus.Ok)]
    [InlineData("00000001", NbdParseStatus.Ok)]
    [InlineData("00000080", NbdParseStatus.Invalid)]
    [InlineData("000000", NbdParseStatus.NeedMoreData)]
    public void Client_flags(string hex, NbdParseStatus expected) =>
        Assert.Equal(expected, NbdParser.TryParseClientFlags(new ReadOnlySequence<byte>(Hex(hex)), out _));

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Option_header(bool fragmented)
    {
        var bytes = Hex("49484156454f5054 00000063 7fffffff");
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseOptionHeader(Seq(bytes, fragmented), out var option, out var length));
        Assert.Equal((NbdOption)99, option);
        Assert.Equal(0x7fffffffu, length);
    }

    [Fact]
    public void Option_header_bad_magic()
    {
        var bytes = Hex("49484156454f5055 00000007 00000000");
        Assert.Equal(NbdParseStatus.BadMagic, NbdParser.TryParseOptionHeader(new ReadOnlySequence<byte>(bytes), out _, out _));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Info_request_payload(bool fragmented)
    {
        var bytes = Hex("00000003 766f6c 0002 0003 0001");
        Assert.True(NbdParser.TryParseInfoRequest(Seq(bytes, fragmented), out var name, out var infos));
        Assert.Equal("vol", name);
        Assert.Equal([NbdInfoType.BlockSize, NbdInfoType.Name], infos);
    }

    [Theory]
    [InlineData("00000003 766f6c 0002 0003")]          // count says 2, one given
    [InlineData("00000003 766f6c 0001 0003 00")]       // trailing byte
    [InlineData("00000009 766f6c 0000")]               // name longer than payload
    [InlineData("00000003 766f6c")]                    // missing count
    [InlineData("00001001")]                           // name over 4096 bytes
    [InlineData("00000001 ff 0000")]                   // not UTF-8
    public void Info_request_payload_rejects_bad_framing(string hex) =>
        Assert.False(NbdParser.TryParseInfoRequest(new ReadOnlySequence<byte>(Hex(hex)), out _, out _));

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Meta_context_payload(bool fragmented)
    {
        var payload = new ArrayBufferWriter<byte>();
        NbdWriter.WriteMetaContextPayload(payload, "e", ["base:allocation", "qemu:dirty-bitmap:x"]);
        Assert.Equal(Hex("00000001 65 00000002 0000000f").Concat("base:allocation"u8.ToArray()).Concat(Hex("00000013")).Concat("qemu:dirty-bitmap:x"u8.ToArray()), payload.WrittenSpan.ToArray());
        Assert.True(NbdParser.TryParseMetaContextRequest(Seq(payload.WrittenSpan.ToArray(), fragmented), out var name, out var queries));
        Assert.Equal("e", name);
        Assert.Equal(["base:allocation", "qemu:dirty-bitmap:x"], queries);
    }

    [Theory]
    [InlineData("00000001 65 00000001")]                  // count without queries
    [InlineData("00000001 65 7fffffff")]                  // absurd count
    [InlineData("00000001 65 00000000 00")]               // trailing garbage
    [InlineData("00000001 65 00000001 00000005 6261")]    // query shorter than its length
    public void Meta_context_payload_rejects_bad_framing(string hex) =>
        Assert.False(NbdParser.TryParseMetaContextRequest(new ReadOnlySequence<byte>(Hex(hex)), out _, out _));

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reply_headers_simple_and_structured(bool fragmented)
    {
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseReplyHeader(Seq(Hex("67446698 00000005 0000000000000009"), fragmented), out var simple));
        Assert.Equal(new NbdReplyHeader(false, NbdError.Io, 9, 0, 0, 0), simple);
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseReplyHeader(Seq(Hex("668e33ef 0001 0002 0000000000000007 0000000c"), fragmented), out var chunk));
        Assert.Equal(new NbdReplyHeader(true, NbdError.None, 7, NbdReplyChunkFlags.Done, NbdReplyChunkType.OffsetHole, 12), chunk);
        Assert.Equal(NbdParseStatus.NeedMoreData, NbdParser.TryParseReplyHeader(Seq(Hex("668e33ef 0001 0002"), fragmented), out _));
        Assert.Equal(NbdParseStatus.BadMagic, NbdParser.TryParseReplyHeader(Seq(Hex("00000000 0001 0002"), fragmented), out _));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Greeting_and_option_reply_headers(bool fragmented)
    {
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseGreeting(Seq(Hex("4e42444d41474943 49484156454f5054 0003"), fragmented), out var flags));
        Assert.Equal(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes, flags);
        Assert.Equal(NbdParseStatus.Ok, NbdParser.TryParseOptionReplyHeader(Seq(Hex("0003e889045565a9 00000007 80000006 00000002"), fragmented), out var option, out var type, out var length));
        Assert.Equal((NbdOption.Go, NbdOptionReplyType.ErrUnknown, 2u), (option, type, length));
    }
}
