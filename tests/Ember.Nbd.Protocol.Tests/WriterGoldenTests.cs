using System.Buffers;
using Ember.Nbd.Protocol;

namespace Ember.Nbd.Protocol.Tests;

/// <summary>Golden bytes from the layouts in the NBD spec (doc/proto.md), written out by hand.</summary>
public class WriterGoldenTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static byte[] Write(Action<ArrayBufferWriter<byte>> write)
    {
        var w = new ArrayBufferWriter<byte>();
        write(w);
        return w.WrittenSpan.ToArray();
    }

    [Fact]
    public void Greeting_is_NBDMAGIC_IHAVEOPT_and_flags()
    {
        var bytes = Write(w => NbdWriter.WriteGreeting(w, NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes));
        Assert.Equal(Hex("4e42444d41474943 49484156454f5054 0003"), bytes);
        Assert.Equal("NBDMAGICIHAVEOPT", System.Text.Encoding.ASCII.GetString(bytes, 0, 16));
    }

    [Fact]
    public void Option_reply_ack()
    {
        var bytes = Write(w => NbdWriter.WriteOptionReply(w, NbdOption.StructuredReply, NbdOptionReplyType.Ack));
        Assert.Equal(Hex("0003e889045565a9 00000008 00000001 00000000"), bytes);
    }

    [Fact]
    public void Option_error_carries_message()
    {
        var bytes = Write(w => NbdWriter.WriteOptionError(w, NbdOption.Go, NbdOptionReplyType.ErrUnknown, "no"));
        Assert.Equal(Hex("0003e889045565a9 00000007 80000006 00000002 6e6f"), bytes);
    }

    [Fact]
    public void Info_export_is_12_bytes_type_size_flags()
    {
        var bytes = Write(w => NbdWriter.WriteInfoExport(w, NbdOption.Go, 0x100000, NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.CanMultiConn));
        Assert.Equal(Hex("0003e889045565a9 00000007 00000003 0000000c 0000 0000000000100000 0101"), bytes);
    }

    [Fact]
    public void Info_block_size_is_14_bytes()
    {
        var bytes = Write(w => NbdWriter.WriteInfoBlockSize(w, NbdOption.Info, 1, 4096, 32 * 1024 * 1024));
        Assert.Equal(Hex("0003e889045565a9 00000006 00000003 0000000e 0003 00000001 00001000 02000000"), bytes);
    }

    [Fact]
    public void Meta_context_reply_has_id_and_name()
    {
        var bytes = Write(w => NbdWriter.WriteMetaContextReply(w, NbdOption.SetMetaContext, 1, "base:allocation"));
        Assert.Equal(Hex("0003e889045565a9 0000000a 00000004 00000013 00000001").Concat("base:allocation"u8.ToArray()), bytes);
    }

    [Theory]
    [InlineData(true, 10)]
    [InlineData(false, 134)]
    public void Export_name_reply_pads_with_124_zeroes_unless_no_zeroes(bool noZeroes, int expectedLength)
    {
        var bytes = Write(w => NbdWriter.WriteExportNameReply(w, 0x12345678, NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly, noZeroes));
        Assert.Equal(expectedLength, bytes.Length);
        Assert.Equal(Hex("0000000012345678 0003"), bytes[..10]);
        Assert.All(bytes[10..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Request_header_is_28_bytes()
    {
        var bytes = Write(w => NbdWriter.WriteRequest(w, new NbdRequest(NbdCommandFlags.Fua, NbdCommand.Write, 0x0102030405060708, 0x1000, 0x200)));
        Assert.Equal(Hex("25609513 0001 0001 0102030405060708 0000000000001000 00000200"), bytes);
    }

    [Fact]
    public void Simple_reply_is_16_bytes()
    {
        var bytes = Write(w => NbdWriter.WriteSimpleReply(w, NbdError.Inval, 42));
        Assert.Equal(Hex("67446698 00000016 000000000000002a"), bytes);
    }

    [Fact]
    public void Offset_data_chunk_header_counts_offset_in_length()
    {
        var bytes = Write(w => NbdWriter.WriteOffsetDataHeader(w, NbdReplyChunkFlags.Done, 7, 0x200, 4096));
        Assert.Equal(Hex("668e33ef 0001 0001 0000000000000007 00001008 0000000000000200"), bytes);
    }

    [Fact]
    public void Offset_hole_chunk()
    {
        var bytes = Write(w => NbdWriter.WriteOffsetHole(w, NbdReplyChunkFlags.Done, 7, 0, 0x2000000));
        Assert.Equal(Hex("668e33ef 0001 0002 0000000000000007 0000000c 0000000000000000 02000000"), bytes);
    }

    [Fact]
    public void Error_chunk_has_errno_and_message()
    {
        var bytes = Write(w => NbdWriter.WriteErrorChunk(w, NbdReplyChunkFlags.Done, 9, NbdError.Io, "io"));
        Assert.Equal(Hex("668e33ef 0001 8001 0000000000000009 00000008 00000005 0002 696f"), bytes);
    }

    [Fact]
    public void Block_status_chunk_with_two_extents()
    {
        var bytes = Write(w =>
        {
            NbdWriter.WriteBlockStatusHeader(w, NbdReplyChunkFlags.Done, 3, 1, 2);
            NbdWriter.WriteExtent(w, 0x1000, NbdAllocationFlags.Data);
            NbdWriter.WriteExtent(w, 0x3000, NbdAllocationFlags.Hole | NbdAllocationFlags.Zero);
        });
        Assert.Equal(Hex("668e33ef 0001 0005 0000000000000003 00000014 00000001 00001000 00000000 00003000 00000003"), bytes);
    }

    [Fact]
    public void None_chunk_is_done()
    {
        var bytes = Write(w => NbdWriter.WriteNoneChunk(w, 5));
        Assert.Equal(Hex("668e33ef 0001 0000 0000000000000005 00000000"), bytes);
    }

    [Fact]
    public void Go_payload_name_then_info_list()
    {
        var bytes = Write(w => NbdWriter.WriteOption(w, NbdOption.Go, Write(p => NbdWriter.WriteInfoRequestPayload(p, "ab", [NbdInfoType.BlockSize]))));
        Assert.Equal(Hex("49484156454f5054 00000007 0000000a 00000002 6162 0001 0003"), bytes);
    }
}
