using System.Buffers;
using System.Buffers.Binary;

namespace Ember.Nbd.Protocol;

/// <summary>A transmission request header (28 bytes on the wire).</summary>
public readonly record struct NbdRequest(NbdCommandFlags Flags, NbdCommand Command, ulong Cookie, ulong Offset, uint Length)
{
    /// <summary>Decodes a request header from exactly <see cref="NbdLimits.RequestSize"/> bytes, magic included.</summary>
    public static NbdRequest Decode(ReadOnlySpan<byte> header) => new(
        (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(header[4..]),
        (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(header[6..]),
        BinaryPrimitives.ReadUInt64BigEndian(header[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(header[16..]),
        BinaryPrimitives.ReadUInt32BigEndian(header[24..]));
}

/// <summary>Outcome of trying to parse a fixed-size message from a buffer.</summary>
public enum NbdParseStatus
{
    /// <summary>Not enough bytes yet.</summary>
    NeedMoreData,

    /// <summary>Parsed; the message is valid so far.</summary>
    Ok,

    /// <summary>The magic number is wrong: the stream is out of sync and the connection must close.</summary>
    BadMagic,

    /// <summary>Well framed, but its content is invalid.</summary>
    Invalid,
}

/// <summary>Parses NBD messages from a <see cref="ReadOnlySequence{T}"/>. No I/O, no allocation on the request path.</summary>
public static class NbdParser
{
    /// <summary>Parses a transmission request header at the start of <paramref name="buffer"/>.</summary>
    public static NbdParseStatus TryParseRequest(in ReadOnlySequence<byte> buffer, out NbdRequest request)
    {
        request = default;
        if (buffer.Length < NbdLimits.RequestSize)
            return NbdParseStatus.NeedMoreData;
        Span<byte> scratch = stackalloc byte[NbdLimits.RequestSize];
        var header = First(buffer, scratch);
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != NbdMagic.Request)
            return NbdParseStatus.BadMagic;
        request = NbdRequest.Decode(header);
        return NbdParseStatus.Ok;
    }

    /// <summary>Parses the 4-byte client flags that follow the greeting.</summary>
    public static NbdParseStatus TryParseClientFlags(in ReadOnlySequence<byte> buffer, out NbdClientFlags flags)
    {
        flags = default;
        if (buffer.Length < 4)
            return NbdParseStatus.NeedMoreData;
        Span<byte> scratch = stackalloc byte[4];
        flags = (NbdClientFlags)BinaryPrimitives.ReadUInt32BigEndian(First(buffer, scratch));
        return (flags & ~(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)) == 0 ? NbdParseStatus.Ok : NbdParseStatus.Invalid;
    }

    /// <summary>Parses an option header (IHAVEOPT, option, length); the payload follows it.</summary>
    public static NbdParseStatus TryParseOptionHeader(in ReadOnlySequence<byte> buffer, out NbdOption option, out uint length)
    {
        option = default;
        length = 0;
        if (buffer.Length < NbdLimits.OptionHeaderSize)
            return NbdParseStatus.NeedMoreData;
        Span<byte> scratch = stackalloc byte[NbdLimits.OptionHeaderSize];
        var header = First(buffer, scratch);
        if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.IHaveOpt)
            return NbdParseStatus.BadMagic;
        option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        length = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        return NbdParseStatus.Ok;
    }

    /// <summary>Parses the server greeting (client side).</summary>
    public static NbdParseStatus TryParseGreeting(in ReadOnlySequence<byte> buffer, out NbdHandshakeFlags flags)
    {
        flags = default;
        if (buffer.Length < NbdLimits.GreetingSize)
            return NbdParseStatus.NeedMoreData;
        Span<byte> scratch = stackalloc byte[NbdLimits.GreetingSize];
        var header = First(buffer, scratch);
        if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.InitPasswd
            || BinaryPrimitives.ReadUInt64BigEndian(header[8..]) != NbdMagic.IHaveOpt)
            return NbdParseStatus.BadMagic;
        flags = (NbdHandshakeFlags)BinaryPrimitives.ReadUInt16BigEndian(header[16..]);
        return NbdParseStatus.Ok;
    }

    /// <summary>Parses an option reply header (client side); <paramref name="length"/> payload bytes follow.</summary>
    public static NbdParseStatus TryParseOptionReplyHeader(in ReadOnlySequence<byte> buffer, out NbdOption option, out NbdOptionReplyType type, out uint length)
    {
        option = default;
        type = default;
        length = 0;
        if (buffer.Length < NbdLimits.OptionReplyHeaderSize)
            return NbdParseStatus.NeedMoreData;
        Span<byte> scratch = stackalloc byte[NbdLimits.OptionReplyHeaderSize];
        var header = First(buffer, scratch);
        if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.OptionReply)
            return NbdParseStatus.BadMagic;
        option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        type = (NbdOptionReplyType)BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        length = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
        return NbdParseStatus.Ok;
    }

    /// <summary>
    /// Parses a transmission reply header (client side): a simple reply (16 bytes) or a structured chunk header (20 bytes).
    /// </summary>
    public static NbdParseStatus TryParseReplyHeader(in ReadOnlySequence<byte> buffer, out NbdReplyHeader reply)
    {
        reply = default;
        if (buffer.Length < 4)
            return NbdParseStatus.NeedMoreData;
        Span<byte> scratch = stackalloc byte[NbdLimits.ChunkHeaderSize];
        var magic = BinaryPrimitives.ReadUInt32BigEndian(First(buffer, scratch[..4]));
        if (magic == NbdMagic.SimpleReply)
        {
            if (buffer.Length < NbdLimits.SimpleReplySize)
                return NbdParseStatus.NeedMoreData;
            var h = First(buffer, scratch[..NbdLimits.SimpleReplySize]);
            reply = new NbdReplyHeader(false, (NbdError)BinaryPrimitives.ReadUInt32BigEndian(h[4..]), BinaryPrimitives.ReadUInt64BigEndian(h[8..]), 0, 0, 0);
            return NbdParseStatus.Ok;
        }
        if (magic == NbdMagic.StructuredReply)
        {
            if (buffer.Length < NbdLimits.ChunkHeaderSize)
                return NbdParseStatus.NeedMoreData;
            var h = First(buffer, scratch);
            reply = new NbdReplyHeader(true, NbdError.None, BinaryPrimitives.ReadUInt64BigEndian(h[8..]),
                (NbdReplyChunkFlags)BinaryPrimitives.ReadUInt16BigEndian(h[4..]),
                (NbdReplyChunkType)BinaryPrimitives.ReadUInt16BigEndian(h[6..]),
                BinaryPrimitives.ReadUInt32BigEndian(h[16..]));
            return NbdParseStatus.Ok;
        }
        return NbdParseStatus.BadMagic;
    }

    /// <summary>
    /// Parses the payload of NBD_OPT_INFO / NBD_OPT_GO: u32 name length, name, u16 count, count × u16 info type.
    /// The payload must be consumed exactly.
    /// </summary>
    public static bool TryParseInfoRequest(in ReadOnlySequence<byte> payload, out string exportName, out NbdInfoType[] requests)
    {
        exportName = string.Empty;
        requests = [];
        var reader = new SequenceReader<byte>(payload);
        if (!TryReadName(ref reader, out exportName))
            return false;
        if (!reader.TryReadBigEndian(out short count) || reader.Remaining != 2L * (ushort)count)
            return false;
        requests = new NbdInfoType[(ushort)count];
        for (var i = 0; i < requests.Length; i++)
        {
            reader.TryReadBigEndian(out short type);
            requests[i] = (NbdInfoType)(ushort)type;
        }
        return true;
    }

    /// <summary>
    /// Parses the payload of NBD_OPT_LIST/SET_META_CONTEXT: u32 name length, name, u32 count, count × (u32 length, query).
    /// </summary>
    public static bool TryParseMetaContextRequest(in ReadOnlySequence<byte> payload, out string exportName, out string[] queries)
    {
        exportName = string.Empty;
        queries = [];
        var reader = new SequenceReader<byte>(payload);
        if (!TryReadName(ref reader, out exportName))
            return false;
        if (!reader.TryReadBigEndian(out int count) || count < 0 || (long)count * 4 > reader.Remaining)
            return false;
        queries = new string[count];
        for (var i = 0; i < count; i++)
        {
            if (!TryReadName(ref reader, out queries[i]))
                return false;
        }
        return reader.Remaining == 0;
    }

    private static bool TryReadName(ref SequenceReader<byte> reader, out string name)
    {
        name = string.Empty;
        if (!reader.TryReadBigEndian(out int length) || length < 0 || length > NbdLimits.MaxNameLength || reader.Remaining < length)
            return false;
        var bytes = reader.UnreadSequence.Slice(0, length);
        try
        {
            name = System.Text.EncodingExtensions.GetString(s_strictUtf8, bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            return false;
        }
        reader.Advance(length);
        return true;
    }

    private static readonly System.Text.UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static ReadOnlySpan<byte> First(in ReadOnlySequence<byte> buffer, Span<byte> scratch)
    {
        var first = buffer.FirstSpan;
        if (first.Length >= scratch.Length)
            return first[..scratch.Length];
        buffer.Slice(0, scratch.Length).CopyTo(scratch);
        return scratch;
    }
}

/// <summary>A parsed reply header: simple (Error, Cookie) or structured chunk (Flags, Type, Length).</summary>
public readonly record struct NbdReplyHeader(bool IsStructured, NbdError Error, ulong Cookie, NbdReplyChunkFlags Flags, NbdReplyChunkType Type, uint Length)
{
    /// <summary>Header size on the wire.</summary>
    public int Size => IsStructured ? NbdLimits.ChunkHeaderSize : NbdLimits.SimpleReplySize;
}
