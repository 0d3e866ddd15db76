using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Ember.Nbd.Protocol;

/// <summary>Writes NBD messages through an <see cref="IBufferWriter{T}"/>. No I/O.</summary>
public static class NbdWriter
{
    /// <summary>Server greeting: NBDMAGIC, IHAVEOPT, handshake flags.</summary>
    public static void WriteGreeting(IBufferWriter<byte> writer, NbdHandshakeFlags flags)
    {
        var span = writer.GetSpan(NbdLimits.GreetingSize);
        BinaryPrimitives.WriteUInt64BigEndian(span, NbdMagic.InitPasswd);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt16BigEndian(span[16..], (ushort)flags);
        writer.Advance(NbdLimits.GreetingSize);
    }

    /// <summary>Client flags (client side).</summary>
    public static void WriteClientFlags(IBufferWriter<byte> writer, NbdClientFlags flags) => WriteUInt32(writer, (uint)flags);

    /// <summary>An option with its payload (client side).</summary>
    public static void WriteOption(IBufferWriter<byte> writer, NbdOption option, ReadOnlySpan<byte> payload) =>
        WriteOption(writer, option, (uint)payload.Length, payload);

    /// <summary>An option header claiming <paramref name="length"/> bytes, followed by <paramref name="payload"/> (may be shorter, for hostile tests).</summary>
    public static void WriteOption(IBufferWriter<byte> writer, NbdOption option, uint length, ReadOnlySpan<byte> payload)
    {
        var span = writer.GetSpan(NbdLimits.OptionHeaderSize);
        BinaryPrimitives.WriteUInt64BigEndian(span, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], length);
        writer.Advance(NbdLimits.OptionHeaderSize);
        writer.Write(payload);
    }

    /// <summary>INFO/GO payload: name and the requested info items (client side).</summary>
    public static void WriteInfoRequestPayload(IBufferWriter<byte> writer, string exportName, ReadOnlySpan<NbdInfoType> requests)
    {
        WriteString(writer, exportName);
        WriteUInt16(writer, (ushort)requests.Length);
        foreach (var r in requests)
            WriteUInt16(writer, (ushort)r);
    }

    /// <summary>LIST/SET_META_CONTEXT payload (client side).</summary>
    public static void WriteMetaContextPayload(IBufferWriter<byte> writer, string exportName, ReadOnlySpan<string> queries)
    {
        WriteString(writer, exportName);
        WriteUInt32(writer, (uint)queries.Length);
        foreach (var q in queries)
            WriteString(writer, q);
    }

    /// <summary>Option reply header; <paramref name="length"/> payload bytes must follow.</summary>
    public static void WriteOptionReplyHeader(IBufferWriter<byte> writer, NbdOption option, NbdOptionReplyType type, uint length)
    {
        var span = writer.GetSpan(NbdLimits.OptionReplyHeaderSize);
        BinaryPrimitives.WriteUInt64BigEndian(span, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], length);
        writer.Advance(NbdLimits.OptionReplyHeaderSize);
    }

    /// <summary>Option reply with no payload (ACK, or a bare error).</summary>
    public static void WriteOptionReply(IBufferWriter<byte> writer, NbdOption option, NbdOptionReplyType type) =>
        WriteOptionReplyHeader(writer, option, type, 0);

    /// <summary>Option error reply carrying a UTF-8 message.</summary>
    public static void WriteOptionError(IBufferWriter<byte> writer, NbdOption option, NbdOptionReplyType type, string message)
    {
        var length = Encoding.UTF8.GetByteCount(message);
        WriteOptionReplyHeader(writer, option, type, (uint)length);
        Encoding.UTF8.GetBytes(message, writer);
    }

    /// <summary>NBD_REP_INFO carrying NBD_INFO_EXPORT: size and transmission flags.</summary>
    public static void WriteInfoExport(IBufferWriter<byte> writer, NbdOption option, ulong size, NbdTransmissionFlags flags)
    {
        WriteOptionReplyHeader(writer, option, NbdOptionReplyType.Info, 12);
        var span = writer.GetSpan(12);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(span[2..], size);
        BinaryPrimitives.WriteUInt16BigEndian(span[10..], (ushort)flags);
        writer.Advance(12);
    }

    /// <summary>NBD_REP_INFO carrying NBD_INFO_BLOCK_SIZE.</summary>
    public static void WriteInfoBlockSize(IBufferWriter<byte> writer, NbdOption option, uint minimum, uint preferred, uint maximum)
    {
        WriteOptionReplyHeader(writer, option, NbdOptionReplyType.Info, 14);
        var span = writer.GetSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)NbdInfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[2..], minimum);
        BinaryPrimitives.WriteUInt32BigEndian(span[6..], preferred);
        BinaryPrimitives.WriteUInt32BigEndian(span[10..], maximum);
        writer.Advance(14);
    }

    /// <summary>NBD_REP_META_CONTEXT: context id and name.</summary>
    public static void WriteMetaContextReply(IBufferWriter<byte> writer, NbdOption option, uint contextId, string name)
    {
        var length = Encoding.UTF8.GetByteCount(name);
        WriteOptionReplyHeader(writer, option, NbdOptionReplyType.MetaContext, (uint)(4 + length));
        WriteUInt32(writer, contextId);
        Encoding.UTF8.GetBytes(name, writer);
    }

    /// <summary>Reply to NBD_OPT_EXPORT_NAME: size, flags, and 124 zero bytes unless NO_ZEROES was agreed.</summary>
    public static void WriteExportNameReply(IBufferWriter<byte> writer, ulong size, NbdTransmissionFlags flags, bool noZeroes)
    {
        var total = noZeroes ? 10 : 134;
        var span = writer.GetSpan(total);
        BinaryPrimitives.WriteUInt64BigEndian(span, size);
        BinaryPrimitives.WriteUInt16BigEndian(span[8..], (ushort)flags);
        span[10..total].Clear();
        writer.Advance(total);
    }

    /// <summary>A transmission request header (client side); WRITE payload follows separately.</summary>
    public static void WriteRequest(IBufferWriter<byte> writer, in NbdRequest request)
    {
        var span = writer.GetSpan(NbdLimits.RequestSize);
        BinaryPrimitives.WriteUInt32BigEndian(span, NbdMagic.Request);
        BinaryPrimitives.WriteUInt16BigEndian(span[4..], (ushort)request.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], (ushort)request.Command);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], request.Cookie);
        BinaryPrimitives.WriteUInt64BigEndian(span[16..], request.Offset);
        BinaryPrimitives.WriteUInt32BigEndian(span[24..], request.Length);
        writer.Advance(NbdLimits.RequestSize);
    }

    /// <summary>Simple reply header; data of a successful READ follows separately.</summary>
    public static void WriteSimpleReply(IBufferWriter<byte> writer, NbdError error, ulong cookie)
    {
        var span = writer.GetSpan(NbdLimits.SimpleReplySize);
        BinaryPrimitives.WriteUInt32BigEndian(span, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)error);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], cookie);
        writer.Advance(NbdLimits.SimpleReplySize);
    }

    /// <summary>Structured chunk header; <paramref name="length"/> payload bytes must follow.</summary>
    public static void WriteChunkHeader(IBufferWriter<byte> writer, NbdReplyChunkFlags flags, NbdReplyChunkType type, ulong cookie, uint length)
    {
        var span = writer.GetSpan(NbdLimits.ChunkHeaderSize);
        BinaryPrimitives.WriteUInt32BigEndian(span, NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(span[4..], (ushort)flags);
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], cookie);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], length);
        writer.Advance(NbdLimits.ChunkHeaderSize);
    }

    /// <summary>NBD_REPLY_TYPE_NONE with DONE: ends a structured reply that has nothing else to say.</summary>
    public static void WriteNoneChunk(IBufferWriter<byte> writer, ulong cookie) =>
        WriteChunkHeader(writer, NbdReplyChunkFlags.Done, NbdReplyChunkType.None, cookie, 0);

    /// <summary>NBD_REPLY_TYPE_OFFSET_DATA header and offset; <paramref name="dataLength"/> data bytes must follow.</summary>
    public static void WriteOffsetDataHeader(IBufferWriter<byte> writer, NbdReplyChunkFlags flags, ulong cookie, ulong offset, uint dataLength)
    {
        WriteChunkHeader(writer, flags, NbdReplyChunkType.OffsetData, cookie, 8 + dataLength);
        WriteUInt64(writer, offset);
    }

    /// <summary>NBD_REPLY_TYPE_OFFSET_HOLE: the range reads as zeroes.</summary>
    public static void WriteOffsetHole(IBufferWriter<byte> writer, NbdReplyChunkFlags flags, ulong cookie, ulong offset, uint holeLength)
    {
        WriteChunkHeader(writer, flags, NbdReplyChunkType.OffsetHole, cookie, 12);
        var span = writer.GetSpan(12);
        BinaryPrimitives.WriteUInt64BigEndian(span, offset);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], holeLength);
        writer.Advance(12);
    }

    /// <summary>NBD_REPLY_TYPE_ERROR: errno and a message.</summary>
    public static void WriteErrorChunk(IBufferWriter<byte> writer, NbdReplyChunkFlags flags, ulong cookie, NbdError error, string message)
    {
        var length = Encoding.UTF8.GetByteCount(message);
        WriteChunkHeader(writer, flags, NbdReplyChunkType.Error, cookie, (uint)(6 + length));
        WriteUInt32(writer, (uint)error);
        WriteUInt16(writer, (ushort)length);
        Encoding.UTF8.GetBytes(message, writer);
    }

    /// <summary>NBD_REPLY_TYPE_BLOCK_STATUS header; <paramref name="extentCount"/> extents must follow.</summary>
    public static void WriteBlockStatusHeader(IBufferWriter<byte> writer, NbdReplyChunkFlags flags, ulong cookie, uint contextId, int extentCount)
    {
        WriteChunkHeader(writer, flags, NbdReplyChunkType.BlockStatus, cookie, (uint)(4 + (8 * extentCount)));
        WriteUInt32(writer, contextId);
    }

    /// <summary>One block-status extent: length and flags.</summary>
    public static void WriteExtent(IBufferWriter<byte> writer, uint length, NbdAllocationFlags flags)
    {
        var span = writer.GetSpan(8);
        BinaryPrimitives.WriteUInt32BigEndian(span, length);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)flags);
        writer.Advance(8);
    }

    private static void WriteString(IBufferWriter<byte> writer, string value)
    {
        WriteUInt32(writer, (uint)Encoding.UTF8.GetByteCount(value));
        Encoding.UTF8.GetBytes(value, writer);
    }

    private static void WriteUInt16(IBufferWriter<byte> writer, ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(writer.GetSpan(2), value);
        writer.Advance(2);
    }

    private static void WriteUInt32(IBufferWriter<byte> writer, uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }

    private static void WriteUInt64(IBufferWriter<byte> writer, ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(writer.GetSpan(8), value);
        writer.Advance(8);
    }
}
