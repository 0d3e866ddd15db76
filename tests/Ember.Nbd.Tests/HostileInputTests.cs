using Ember.Nbd.Protocol;

namespace Ember.Nbd.Tests;

/// <summary>
/// Mirrors the hostile-input table (reference nbd.md §1.4): errno replies where the spec keeps the connection,
/// a clean close where it does not. After every case a second, healthy client must still work.
/// </summary>
public class HostileInputTests
{
    private static readonly byte[] s_pattern = [0xde, 0xad, 0xbe, 0xef];

    private static async Task AssertHealthyAsync(NbdTestClient healthy, ulong offset)
    {
        await healthy.WriteAsync(offset, s_pattern);
        Assert.Equal(s_pattern, await healthy.ReadAsync(offset, 4));
    }

    private static async Task RunAsync(string transport, Func<TestServer, Task> hostile, long size = 16 << 20)
    {
        await using var server = await TestServer.StartAsync(size);
        await using var healthy = await NbdTestClient.OpenAsync(server, transport, structured: true);
        await AssertHealthyAsync(healthy, 0);
        await hostile(server);
        await AssertHealthyAsync(healthy, 4096);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Unknown_option_gets_ERR_UNSUP_and_GO_still_works(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        await c.SendOptionAsync((NbdOption)99, [1, 2, 3, 4, 5]);
        Assert.Equal(NbdOptionReplyType.ErrUnsup, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.StartTls, []);
        Assert.Equal(NbdOptionReplyType.ErrUnsup, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.ExtendedHeaders, []);
        Assert.Equal(NbdOptionReplyType.ErrUnsup, (await c.ReadOptionReplyAsync()).Type);
        Assert.Equal(NbdOptionReplyType.Ack, (await c.GoAsync(server.ExportName))[^1].Type);
        Assert.Equal(new byte[8], await c.ReadAsync(1 << 20, 8));
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Unknown_client_flag_is_dropped(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync((NbdClientFlags)0x80 | NbdClientFlags.FixedNewstyle);
        Assert.True(await c.IsClosedByServerAsync());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Huge_option_length_is_dropped(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle);
        await c.SendOptionHeaderAsync((NbdOption)99, int.MaxValue, [0, 0, 0, 0]);
        Assert.True(await c.IsClosedByServerAsync());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Bad_option_magic_is_dropped(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle);
        await c.SendRawAsync(new byte[16]);
        Assert.True(await c.IsClosedByServerAsync());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Go_with_unknown_export_gets_ERR_UNKNOWN_then_a_known_one_works(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        var replies = await c.GoAsync(NbdExportRegistry.NewExportName());
        Assert.Equal(NbdOptionReplyType.ErrUnknown, Assert.Single(replies).Type);
        Assert.Equal(NbdOptionReplyType.ErrUnknown, Assert.Single(await c.GoAsync("")).Type);
        Assert.Equal(NbdOptionReplyType.Ack, (await c.GoAsync(server.ExportName))[^1].Type);
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Export_name_of_unknown_export_disconnects(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        await c.SendOptionAsync(NbdOption.ExportName, "nope"u8.ToArray());
        Assert.True(await c.IsClosedByServerAsync());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Malformed_options_get_ERR_INVALID(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        await c.SendOptionAsync(NbdOption.List, [1]);
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.SetMetaContext, NbdTestClient.MetaContextPayload(server.ExportName, "base:allocation"));
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type); // before STRUCTURED_REPLY
        await c.SendOptionAsync(NbdOption.StructuredReply, [0]);
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.Go, [0, 0, 0, 9, (byte)'x']); // name longer than the payload
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
        await c.SendOptionAsync(NbdOption.Info, [.. NbdTestClient.InfoPayload(server.ExportName), 0]); // trailing byte
        Assert.Equal(NbdOptionReplyType.ErrInvalid, (await c.ReadOptionReplyAsync()).Type);
        Assert.Equal(NbdOptionReplyType.Ack, (await c.GoAsync(server.ExportName))[^1].Type);
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Abort_is_acknowledged_and_closes(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await server.ConnectAsync(transport);
        await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes);
        await c.SendOptionAsync(NbdOption.Abort, []);
        Assert.Equal(NbdOptionReplyType.Ack, (await c.ReadOptionReplyAsync()).Type);
        Assert.True(await c.IsClosedByServerAsync());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Out_of_range_and_invalid_requests_get_errno_and_keep_the_connection(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await NbdTestClient.OpenAsync(server, transport);
        var size = c.Size;
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Read, size - 2, 4)).Error);        // past EOF
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Read, 1UL << 63, 4)).Error);      // offset 2^63
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Read, ulong.MaxValue - 1, 4)).Error); // wraps
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Read, 0, 64 << 20)).Error);        // 64 MiB read
        Assert.Equal(NbdError.None, (await c.RoundTripAsync(NbdCommand.Read, 0, 0)).Error);                // len 0
        Assert.Equal(NbdError.NoSpc, (await c.RoundTripAsync(NbdCommand.Write, size - 2, 4, payload: [1, 2, 3, 4])).Error); // body drained
        Assert.Equal(NbdError.NoSpc, (await c.RoundTripAsync(NbdCommand.WriteZeroes, size, 4096)).Error);
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Trim, size, 4096)).Error);
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync((NbdCommand)99, 0, 0)).Error);                // unknown command
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Read, 0, 4, (NbdCommandFlags)0x40)).Error); // unknown flag
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Read, 0, 4, NbdCommandFlags.DontFragment)).Error); // DF without structured
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.WriteZeroes, 0, 4096, NbdCommandFlags.FastZero)).Error); // not advertised
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Write, 0, 4, NbdCommandFlags.NoHole, [1, 2, 3, 4])).Error);
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.BlockStatus, 0, 4096)).Error);     // no context negotiated
        Assert.Equal(NbdError.None, (await c.RoundTripAsync(NbdCommand.Read, 0, 4, NbdCommandFlags.Fua)).Error); // FUA is valid on all commands
        Assert.Equal(new byte[4], await c.ReadAsync(size - 4, 4));
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Oversized_write_is_skipped_without_buffering_and_refused(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await NbdTestClient.OpenAsync(server, transport);
        var body = new byte[(64 << 20) + 1];
        body.AsSpan().Fill(0x55);
        Assert.Equal(NbdError.Inval, (await c.RoundTripAsync(NbdCommand.Write, 0, (uint)body.Length, payload: body)).Error);
        Assert.Equal(new byte[4], await c.ReadAsync(1 << 20, 4)); // nothing of it was written, and the stream is in sync
    }, size: 128 << 20);

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Write_with_short_body_then_hang_up_leaves_the_file_untouched(string transport) => RunAsync(transport, async server =>
    {
        await using (var c = await NbdTestClient.OpenAsync(server, transport))
        {
            await c.SendRequestAsync(NbdCommand.Write, 8192, 4096, payload: new byte[100]);
        }
        Assert.Equal(new byte[4], File.ReadAllBytes(server.FilePath).AsSpan(8192, 4).ToArray());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Bad_request_magic_disconnects(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await NbdTestClient.OpenAsync(server, transport);
        await c.SendRawAsync(new byte[28]);
        Assert.True(await c.IsClosedByServerAsync());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Garbage_instead_of_client_flags_and_early_hang_ups_are_harmless(string transport) => RunAsync(transport, async server =>
    {
        await using (var c = await server.ConnectAsync(transport))
            await c.SendRawAsync([1, 2]);
        await using (var c = await server.ConnectAsync(transport))
        {
            await c.SendClientFlagsAsync(NbdClientFlags.FixedNewstyle);
            await c.SendOptionHeaderAsync(NbdOption.Go, 100, [0, 0]);
        }
        await using var d = await server.ConnectAsync(transport);
        await d.SendRawAsync([0xff, 0xff, 0xff, 0xff]);
        Assert.True(await d.IsClosedByServerAsync());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Requests_after_disconnect_are_ignored_and_the_connection_closes(string transport) => RunAsync(transport, async server =>
    {
        await using var c = await NbdTestClient.OpenAsync(server, transport);
        await c.SendRequestAsync(NbdCommand.Disconnect, 0, 0);
        try
        {
            await c.SendRequestAsync(NbdCommand.Write, 0, 4, payload: [7, 7, 7, 7]);
        }
        catch (IOException)
        {
            // The server may already have closed after DISC (EPIPE): the request is ignored either way.
        }
        Assert.True(await c.IsClosedByServerAsync());
        Assert.DoesNotContain((byte)7, File.ReadAllBytes(server.FilePath).AsSpan(0, 4).ToArray());
    });
}
