using System.Buffers;
using Ember.Nbd.Protocol;

namespace Ember.Nbd.Tests;

public class TransmissionTests
{
    private static byte[] Pattern(int length, byte seed)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
            bytes[i] = (byte)(seed + (i * 7));
        return bytes;
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Structured_reads_send_data_chunks_and_hole_chunks_for_zeroes(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await using var c = await NbdTestClient.OpenAsync(server, transport, structured: true);
        var data = Pattern(8192, 3);
        await c.WriteAsync(4096, data);

        var read = await c.RoundTripAsync(NbdCommand.Read, 4096, 8192);
        Assert.Equal([NbdReplyChunkType.OffsetData], read.Chunks);
        Assert.Equal(4096UL, read.DataOffset);
        Assert.Equal(data, read.Data);

        var hole = await c.RoundTripAsync(NbdCommand.Read, 1 << 20, 1 << 20);
        Assert.Equal([NbdReplyChunkType.OffsetHole], hole.Chunks);
        Assert.Equal(1UL << 20, hole.DataOffset);
        Assert.Equal(1u << 20, hole.HoleLength);

        var empty = await c.RoundTripAsync(NbdCommand.Read, 0, 0);
        Assert.Equal([NbdReplyChunkType.None], empty.Chunks);

        var error = await c.RoundTripAsync(NbdCommand.Read, c.Size, 1);
        Assert.Equal([NbdReplyChunkType.Error], error.Chunks);
        Assert.Equal(NbdError.Inval, error.Error);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Trim_and_write_zeroes_read_back_as_zeroes_and_show_in_block_status(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await using var c = await NbdTestClient.OpenAsync(server, transport, structured: true, blockStatus: true);
        await c.WriteAsync(0, Pattern(1 << 20, 1));

        Assert.Equal(NbdError.None, (await c.RoundTripAsync(NbdCommand.Trim, 256 << 10, 256 << 10)).Error);
        Assert.Equal(NbdError.None, (await c.RoundTripAsync(NbdCommand.WriteZeroes, 512 << 10, 4096, NbdCommandFlags.Fua)).Error);
        Assert.Equal(NbdError.None, (await c.RoundTripAsync(NbdCommand.WriteZeroes, 600 << 10, 4096, NbdCommandFlags.NoHole)).Error);
        Assert.Equal(new byte[256 << 10], await c.ReadAsync(256 << 10, 256 << 10));
        Assert.Equal(new byte[4096], await c.ReadAsync(512 << 10, 4096));
        Assert.Equal(new byte[4096], await c.ReadAsync(600 << 10, 4096));
        Assert.Equal(Pattern(1 << 20, 1).AsSpan(0, 4096).ToArray(), await c.ReadAsync(0, 4096));

        var status = await c.RoundTripAsync(NbdCommand.BlockStatus, 0, 2 << 20);
        Assert.Equal(2u << 20, (uint)status.Extents.Sum(e => e.Length));
        Assert.Equal(NbdAllocationFlags.Data, status.Extents[0].Flags);
        Assert.Equal(NbdAllocationFlags.Hole | NbdAllocationFlags.Zero, status.Extents[^1].Flags); // beyond 1 MiB never written

        var one = await c.RoundTripAsync(NbdCommand.BlockStatus, 0, 2 << 20, NbdCommandFlags.ReqOne);
        var extent = Assert.Single(one.Extents);
        Assert.True(extent.Length <= 2u << 20);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Flush_fua_and_cache_succeed(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await using var c = await NbdTestClient.OpenAsync(server, transport);
        await c.WriteAsync(0, Pattern(4096, 5), NbdCommandFlags.Fua);
        Assert.Equal(NbdError.None, (await c.RoundTripAsync(NbdCommand.Flush, 0, 0)).Error);
        Assert.Equal(NbdError.None, (await c.RoundTripAsync(NbdCommand.Cache, 0, 1 << 20)).Error);
        Assert.Equal(Pattern(4096, 5), File.ReadAllBytes(server.FilePath).AsSpan(0, 4096).ToArray());
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Pipelined_requests_all_get_their_reply(string transport) => PipelinedWritesAsync(transport, inlineWrites: false);

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Pipelined_requests_all_get_their_reply_with_inline_writes(string transport) => PipelinedWritesAsync(transport, inlineWrites: true);

    private static async Task PipelinedWritesAsync(string transport, bool inlineWrites)
    {
        // More requests than slots: the server must stop reading, reply, and read on (back-pressure, no deadlock).
        await using var server = await TestServer.StartAsync(maxInFlight: 4, inlineWrites: inlineWrites);
        await using var c = await NbdTestClient.OpenAsync(server, transport);
        const int count = 200;
        await c.SendAsync(w =>
        {
            for (var i = 0; i < count; i++)
            {
                NbdWriter.WriteRequest(w, new NbdRequest(NbdCommandFlags.None, NbdCommand.Write, (ulong)(1000 + i), (ulong)i * 4096, 4096));
                w.Write(Pattern(4096, (byte)i));
            }
        });
        var cookies = new HashSet<ulong>();
        for (var i = 0; i < count; i++)
        {
            var reply = await c.ReadReplyAsync();
            Assert.Equal(NbdError.None, reply.Error);
            Assert.True(cookies.Add(reply.Cookie));
        }
        Assert.Equal(Enumerable.Range(1000, count).Select(i => (ulong)i).ToHashSet(), cookies);
        for (var i = 0; i < count; i += 37)
            Assert.Equal(Pattern(4096, (byte)i), await c.ReadAsync((ulong)i * 4096, 4096));
    }

    public static TheoryData<string, bool> TransportsAndReplyStyles => new() { { "unix", false }, { "unix", true }, { "tcp", false }, { "tcp", true } };

    [Theory]
    [MemberData(nameof(TransportsAndReplyStyles))]
    public async Task Pipelined_reads_of_mixed_sizes_each_come_back_whole(string transport, bool structured)
    {
        await using var server = await TestServer.StartAsync();
        await using var c = await NbdTestClient.OpenAsync(server, transport, structured);
        await PipelinedReadsOfMixedSizesAsync(c);
    }

    /// <summary>
    /// A large READ's reply goes out as its header with the data's head, then the rest from the data's own buffer,
    /// behind whatever small replies were queued: every reply must stay framed whole and carry its own bytes. Sizes
    /// straddle the direct-send threshold (64 KiB) and the head (16 KiB less 64).
    /// </summary>
    internal static async Task PipelinedReadsOfMixedSizesAsync(NbdTestClient c)
    {
        const int region = 8 << 20;
        var data = new byte[region]; // random, so a reply carrying the wrong range cannot match by repetition
        new Random(11).NextBytes(data);
        await c.WriteAsync(0, data);
        uint[] sizes = [4096, 64 * 1024, 512, 1 << 20, 64 * 1024 + 1, 16 * 1024 - 64, 64 * 1024 - 1, 4096, 3 << 20, 16 * 1024 - 63, 100 * 1024];
        var offsets = sizes.Select((size, i) => (ulong)((i * 1_048_573L) % (region - size))).ToArray();
        await c.SendAsync(w =>
        {
            for (var i = 0; i < sizes.Length; i++)
                NbdWriter.WriteRequest(w, new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, (ulong)(500 + i), offsets[i], sizes[i]));
        });
        var seen = new HashSet<ulong>();
        for (var i = 0; i < sizes.Length; i++)
        {
            var reply = await c.ReadReplyAsync(readLengthOf: cookie => sizes[(int)cookie - 500]);
            Assert.Equal(NbdError.None, reply.Error);
            Assert.True(seen.Add(reply.Cookie));
            var index = (int)reply.Cookie - 500;
            if (!c.Structured)
                Assert.True(reply.Simple);
            else
                Assert.Equal(offsets[index], reply.DataOffset);
            Assert.Equal(data.AsSpan((int)offsets[index], (int)sizes[index]).ToArray(), reply.Data);
        }
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Large_pipelined_requests_beyond_the_byte_budget_all_complete(string transport)
    {
        // 12 × 8 MiB writes and reads against a 32 MiB budget: the server must hold back, not fail or deadlock.
        await using var server = await TestServer.StartAsync(size: 96 << 20, maxInFlightBytes: 32 << 20);
        await using var c = await NbdTestClient.OpenAsync(server, transport, structured: true);
        const int count = 12, size = 8 << 20;
        var sender = c.SendAsync(w =>
        {
            for (var i = 0; i < count; i++)
            {
                NbdWriter.WriteRequest(w, new NbdRequest(NbdCommandFlags.None, NbdCommand.Write, (ulong)i, (ulong)i * size, size));
                w.Write(Pattern(size, (byte)i));
            }
        });
        for (var i = 0; i < count; i++)
            Assert.Equal(NbdError.None, (await c.ReadReplyAsync()).Error);
        await sender;
        await c.SendAsync(w =>
        {
            for (var i = 0; i < count; i++)
                NbdWriter.WriteRequest(w, new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, (ulong)(100 + i), (ulong)i * size, size));
        });
        for (var i = 0; i < count; i++)
        {
            var reply = await c.ReadReplyAsync();
            Assert.Equal(NbdError.None, reply.Error);
            var index = (int)reply.Cookie - 100;
            Assert.Equal((ulong)index * size, reply.DataOffset);
            Assert.Equal(Pattern(size, (byte)index), reply.Data);
        }
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Write_on_A_flush_on_B_read_on_C_sees_the_data(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await using var a = await NbdTestClient.OpenAsync(server, transport);
        await using var b = await NbdTestClient.OpenAsync(server, transport, structured: true);
        await using var c = await NbdTestClient.OpenAsync(server, transport, structured: true);
        Assert.All(new[] { a, b, c }, x => Assert.True((x.Flags & NbdTransmissionFlags.CanMultiConn) != 0));
        for (var round = 0; round < 20; round++)
        {
            var data = Pattern(65536, (byte)round);
            var offset = (ulong)(round % 5) * 65536;
            await a.WriteAsync(offset, data);
            Assert.Equal(NbdError.None, (await b.RoundTripAsync(NbdCommand.Flush, 0, 0)).Error);
            Assert.Equal(data, await c.ReadAsync(offset, 65536));
        }
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Two_exports_of_one_file_share_writes(string transport)
    {
        await using var server = await TestServer.StartAsync();
        var second = NbdExportRegistry.NewExportName();
        server.Server.Exports.Add(second, server.FilePath, readOnly: true);
        await using var writer = await NbdTestClient.OpenAsync(server, transport);
        await using var reader = await NbdTestClient.OpenAsync(server, transport, exportName: second);
        await writer.WriteAsync(12345, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, await reader.ReadAsync(12345, 3));
        Assert.True(server.Server.Exports.Remove(second));
        // The first export still works on the shared handle after the second one is gone.
        await writer.WriteAsync(0, [4]);
        Assert.Equal(new byte[] { 4 }, await writer.ReadAsync(0, 1));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Removing_an_export_closes_its_connections_and_refuses_reconnects(string transport)
    {
        await using var server = await TestServer.StartAsync();
        var other = NbdExportRegistry.NewExportName();
        var otherFile = Path.Combine(server.Directory, "other.raw");
        File.WriteAllBytes(otherFile, new byte[1 << 20]);
        server.Server.Exports.Add(other, otherFile, readOnly: false);

        await using var victim = await NbdTestClient.OpenAsync(server, transport);
        await using var bystander = await NbdTestClient.OpenAsync(server, transport, exportName: other);
        await victim.WriteAsync(0, [1]);
        // A request in flight when the export goes: the connection closes and no reply is owed.
        await victim.SendRequestAsync(NbdCommand.Read, 0, 1 << 20, cookie: 99);

        Assert.True(server.Server.Exports.Remove(server.ExportName));
        Assert.False(server.Server.Exports.Contains(server.ExportName));
        Assert.False(server.Server.Exports.Remove(server.ExportName));
        Assert.True(await victim.IsClosedByServerAsync());

        await using var again = await server.ConnectAsync(transport);
        await again.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        Assert.Equal(NbdOptionReplyType.ErrUnknown, Assert.Single(await again.GoAsync(server.ExportName)).Type);

        await bystander.WriteAsync(0, [2]);
        Assert.Equal(new byte[] { 2 }, await bystander.ReadAsync(0, 1));
    }

    [Fact]
    public async Task Dispose_closes_connections_and_removes_the_socket_file()
    {
        var server = await TestServer.StartAsync();
        var client = await NbdTestClient.OpenAsync(server, "unix");
        var socketPath = server.Server.UnixSocketPath!;
        await server.DisposeAsync();
        Assert.True(await client.IsClosedByServerAsync());
        Assert.False(File.Exists(socketPath));
        await client.DisposeAsync();
    }
}
