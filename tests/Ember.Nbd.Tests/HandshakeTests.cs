using System.Buffers.Binary;
using Ember.Nbd.Protocol;

namespace Ember.Nbd.Tests;

public class HandshakeTests
{
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Go_advertises_size_flags_and_block_sizes(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 3 * 1024 * 1024);
        await using var client = await server.ConnectAsync(transport);
        Assert.Equal(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes, client.GreetingFlags);
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        var replies = await client.GoAsync(server.ExportName);

        Assert.Equal(NbdOptionReplyType.Ack, replies[^1].Type);
        Assert.Equal(3UL * 1024 * 1024, client.Size);
        var expected = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua | NbdTransmissionFlags.SendTrim
            | NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.CanMultiConn | NbdTransmissionFlags.SendCache;
        Assert.Equal(expected, client.Flags);
        var blockSize = Assert.Single(replies, r => r.Type == NbdOptionReplyType.Info && BinaryPrimitives.ReadUInt16BigEndian(r.Data) == (ushort)NbdInfoType.BlockSize);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(blockSize.Data.AsSpan(2)));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32BigEndian(blockSize.Data.AsSpan(6)));
        Assert.Equal(32u * 1024 * 1024, BinaryPrimitives.ReadUInt32BigEndian(blockSize.Data.AsSpan(10)));
        // No padding after the GO ACK: the next thing on the wire is the reply to our first request.
        Assert.Equal(new byte[512], await client.ReadAsync(0, 512));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Read_only_export_advertises_read_only_and_refuses_writes_with_EPERM(string transport)
    {
        await using var server = await TestServer.StartAsync(readOnly: true);
        await using var client = await NbdTestClient.OpenAsync(server, transport);
        Assert.True((client.Flags & NbdTransmissionFlags.ReadOnly) != 0);
        Assert.Equal(NbdError.Perm, (await client.RoundTripAsync(NbdCommand.Write, 0, 4, payload: [1, 2, 3, 4])).Error);
        Assert.Equal(NbdError.Perm, (await client.RoundTripAsync(NbdCommand.Trim, 0, 4096)).Error);
        Assert.Equal(NbdError.Perm, (await client.RoundTripAsync(NbdCommand.WriteZeroes, 0, 4096)).Error);
        Assert.Equal(new byte[4], await client.ReadAsync(0, 4));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task List_reveals_no_export(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync(transport);
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle);
        await client.SendOptionAsync(NbdOption.List, []);
        var reply = await client.ReadOptionReplyAsync();
        Assert.Equal(NbdOptionReplyType.Ack, reply.Type);
        Assert.Empty(reply.Data);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Info_then_go_on_the_same_connection(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync(transport);
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        var info = await client.GoAsync(server.ExportName, NbdOption.Info);
        Assert.Equal(NbdOptionReplyType.Ack, info[^1].Type);
        Assert.All(info, r => Assert.Equal(NbdOption.Info, r.Option));
        var go = await client.GoAsync(server.ExportName);
        Assert.Equal(NbdOptionReplyType.Ack, go[^1].Type);
        await client.WriteAsync(0, [9, 9]);
        Assert.Equal(new byte[] { 9, 9 }, await client.ReadAsync(0, 2));
    }

    [Theory]
    [InlineData("unix", true, 10)]
    [InlineData("tcp", true, 10)]
    [InlineData("unix", false, 134)]
    [InlineData("tcp", false, 134)]
    public async Task Export_name_replies_with_size_flags_and_zeroes_unless_no_zeroes(string transport, bool noZeroes, int replyLength)
    {
        await using var server = await TestServer.StartAsync(size: 1 << 20);
        await using var client = await server.ConnectAsync(transport);
        await client.SendClientFlagsAsync(noZeroes ? NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes : NbdClientFlags.FixedNewstyle);
        await client.SendOptionAsync(NbdOption.ExportName, System.Text.Encoding.UTF8.GetBytes(server.ExportName));
        var reply = await client.ReadExactlyAsync(replyLength);
        Assert.Equal(1UL << 20, BinaryPrimitives.ReadUInt64BigEndian(reply));
        Assert.True(((NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8)) & NbdTransmissionFlags.CanMultiConn) != 0);
        Assert.All(reply[10..], b => Assert.Equal(0, b));
        Assert.Equal(new byte[16], await client.ReadAsync(4096, 16));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Meta_contexts_list_and_set_base_allocation(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync(transport);
        await client.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        await client.SendOptionAsync(NbdOption.StructuredReply, []);
        Assert.Equal(NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);

        await client.SendOptionAsync(NbdOption.ListMetaContext, NbdTestClient.MetaContextPayload(server.ExportName));
        var listed = await client.ReadOptionReplyAsync();
        Assert.Equal(NbdOptionReplyType.MetaContext, listed.Type);
        Assert.Equal("base:allocation", System.Text.Encoding.UTF8.GetString(listed.Data.AsSpan(4)));
        Assert.Equal(NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);

        await client.SendOptionAsync(NbdOption.SetMetaContext, NbdTestClient.MetaContextPayload(server.ExportName, "qemu:dirty-bitmap:x", "base:allocation"));
        var set = await client.ReadOptionReplyAsync();
        Assert.Equal(NbdOptionReplyType.MetaContext, set.Type);
        var contextId = BinaryPrimitives.ReadUInt32BigEndian(set.Data);
        Assert.Equal(NbdOptionReplyType.Ack, (await client.ReadOptionReplyAsync()).Type);

        await client.GoAsync(server.ExportName);
        Assert.True((client.Flags & NbdTransmissionFlags.SendDf) != 0);
        await client.WriteAsync(8192, [1]);
        var status = await client.RoundTripAsync(NbdCommand.BlockStatus, 0, 16384);
        Assert.Equal(NbdError.None, status.Error);
        Assert.Equal(contextId, status.ContextId);
        Assert.Equal(16384u, (uint)status.Extents.Sum(e => e.Length));
        Assert.Equal(NbdAllocationFlags.Hole | NbdAllocationFlags.Zero, status.Extents[0].Flags);
        Assert.Contains(status.Extents, e => e.Flags == NbdAllocationFlags.Data);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Export_size_is_read_at_negotiation(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 1 << 20);
        await using (var first = await NbdTestClient.OpenAsync(server, transport))
            Assert.Equal(1UL << 20, first.Size);
        using (var f = new FileStream(server.FilePath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            f.SetLength(2 << 20);
        await using var second = await NbdTestClient.OpenAsync(server, transport);
        Assert.Equal(2UL << 20, second.Size);
    }

    [Fact]
    public async Task Unix_socket_is_mode_0600()
    {
        await using var server = await TestServer.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.Server.UnixSocketPath!));
    }
}
