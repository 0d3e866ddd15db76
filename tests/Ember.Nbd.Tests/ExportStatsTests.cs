using Ember.Nbd.Protocol;

namespace Ember.Nbd.Tests;

/// <summary>An export's running totals (what /metrics shows per attachment) follow what a real client did.</summary>
public class ExportStatsTests
{
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Bytes_operations_errors_and_time_are_counted_per_export(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 4 << 20);
        var name = NbdExportRegistry.NewExportName();
        var stats = server.Server.Exports.Add(name, server.FilePath, readOnly: false);

        await Cli.RunOkAsync("qemu-io", "-f", "raw", server.Uri(transport, name),
            "-c", "write -P 0x5a 0 64k",
            "-c", "write -f -P 0x5b 64k 4k",
            "-c", "read -P 0x5a 0 64k",
            "-c", "read 1M 128k",
            "-c", "flush");

        Assert.Equal((64 << 10) + (4 << 10), stats.BytesWritten);
        Assert.Equal((64 << 10) + (128 << 10), stats.BytesRead);
        Assert.Equal(2, stats.Operations(NbdCommand.Write));
        Assert.Equal(2, stats.Operations(NbdCommand.Read));
        Assert.True(stats.Operations(NbdCommand.Flush) >= 1);
        Assert.True(stats.Busy(NbdCommand.Read) > TimeSpan.Zero);
        Assert.Equal(0, stats.Errors);

        // The first export of the same file saw none of it: totals are per export, not per file.
        Assert.Equal(0, server.Server.Exports.Add(NbdExportRegistry.NewExportName(), server.FilePath, readOnly: true).BytesRead);
    }

    [Fact]
    public async Task A_refused_write_counts_as_an_error_and_moves_no_byte()
    {
        await using var server = await TestServer.StartAsync(readOnly: true);
        var name = NbdExportRegistry.NewExportName();
        var stats = server.Server.Exports.Add(name, server.FilePath, readOnly: true);
        await using var client = await NbdTestClient.OpenAsync(server, "unix", exportName: name);
        var reply = await client.RoundTripAsync(NbdCommand.Write, 0, 4096, payload: new byte[4096]);

        Assert.Equal(NbdError.Perm, reply.Error);
        Assert.Equal(1, stats.Errors);
        Assert.Equal(1, stats.Operations(NbdCommand.Write));
        Assert.Equal(0, stats.BytesWritten);
    }
}
