using System.Text.Json;

namespace Ember.Nbd.Tests;

/// <summary>The real clients: qemu-io/qemu-img (the code VMs use), nbdinfo and nbdcopy (libnbd), fio.</summary>
public class InteropTests
{
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Qemu_io_pattern_writes_reads_zeroes_discard_and_aio(string transport)
    {
        await using var server = await TestServer.StartAsync();
        var output = await Cli.RunOkAsync("qemu-io", "-f", "raw", server.Uri(transport),
            "-c", "write -P 0xab 4096 65536",
            "-c", "read -P 0xab 4096 65536",
            "-c", "write -z 8192 4096",
            "-c", "read -P 0 8192 4096",
            "-c", "read -P 0xab 12288 4096",
            "-c", "discard 1M 1M",
            "-c", "read -P 0 1M 1M",
            "-c", "write -P 0x11 2M 1M",
            "-c", "aio_write -P 0x22 3M 64k",
            "-c", "aio_write -P 0x33 4M 64k",
            "-c", "aio_flush",
            "-c", "read -P 0x22 3M 64k",
            "-c", "read -P 0x33 4M 64k",
            "-c", "write -f -P 0x44 5M 4k",
            "-c", "flush");
        Assert.DoesNotContain("Pattern verification failed", output, StringComparison.Ordinal);
        Assert.DoesNotContain("failed", output, StringComparison.OrdinalIgnoreCase);
        // qemu-io wrote through Ember; the file itself must hold the bytes.
        var bytes = await File.ReadAllBytesAsync(server.FilePath);
        Assert.Equal(0xab, bytes[4096]);
        Assert.Equal(0, bytes[8192]);
        Assert.Equal(0x11, bytes[2 << 20]);
        Assert.Equal(0x44, bytes[5 << 20]);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Qemu_img_convert_into_the_export_then_compare(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 8 << 20);
        var source = Path.Combine(server.Directory, "source.raw");
        var data = new byte[8 << 20];
        Random.Shared.NextBytes(data.AsSpan(0, 3 << 20));          // data, then a zero tail (sparse on the wire)
        data.AsSpan(5 << 20, 1 << 20).Fill(0x5a);
        await File.WriteAllBytesAsync(source, data);
        await Cli.RunOkAsync("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source, server.Uri(transport));
        await Cli.RunOkAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", source, server.Uri(transport));
        Assert.Equal(data, await File.ReadAllBytesAsync(server.FilePath));
        var map = await Cli.RunOkAsync("qemu-img", "map", "--output=json", "-f", "raw", server.Uri(transport));
        Assert.Contains("\"data\": true", map, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Nbdinfo_reports_size_flags_and_multi_conn(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 5 << 20);
        var json = await Cli.RunOkAsync("nbdinfo", "--json", server.Uri(transport));
        using var doc = JsonDocument.Parse(json);
        var export = doc.RootElement.GetProperty("exports")[0];
        Assert.Equal(5 << 20, export.GetProperty("export-size").GetInt64());
        Assert.True(export.GetProperty("can_multi_conn").GetBoolean());
        Assert.True(export.GetProperty("can_flush").GetBoolean());
        Assert.True(export.GetProperty("can_fua").GetBoolean());
        Assert.True(export.GetProperty("can_trim").GetBoolean());
        Assert.True(export.GetProperty("can_zero").GetBoolean());
        Assert.False(export.GetProperty("is_read_only").GetBoolean());
        Assert.Equal(1, export.GetProperty("block_size_minimum").GetInt32());
        Assert.Equal(4096, export.GetProperty("block_size_preferred").GetInt32());
        Assert.Contains("base:allocation", export.GetProperty("contexts").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Nbdinfo_list_reveals_nothing_and_map_shows_holes(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 4 << 20);
        var list = await Cli.RunAsync("nbdinfo", ["--list", server.Uri(transport, "")]);
        Assert.DoesNotContain(server.ExportName, list.StdOut + list.StdErr, StringComparison.Ordinal);

        await Cli.RunOkAsync("qemu-io", "-f", "raw", server.Uri(transport), "-c", "write -P 1 1M 64k");
        var map = await Cli.RunOkAsync("nbdinfo", "--map", server.Uri(transport));
        var lines = map.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Contains(lines, l => l[0] == "0" && l[3].StartsWith("hole", StringComparison.Ordinal));
        Assert.Contains(lines, l => l[0] == (1 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture) && l[3] == "data");
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Nbdcopy_in_and_out_round_trips(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 16 << 20);
        var source = Path.Combine(server.Directory, "in.raw");
        var back = Path.Combine(server.Directory, "out.raw");
        var data = new byte[16 << 20];
        Random.Shared.NextBytes(data.AsSpan(0, 6 << 20));
        Random.Shared.NextBytes(data.AsSpan(10 << 20, 1 << 20));
        await File.WriteAllBytesAsync(source, data);
        await Cli.RunOkAsync("nbdcopy", "--flush", source, server.Uri(transport));
        await Cli.RunOkAsync("nbdcopy", server.Uri(transport), back);
        Assert.Equal(data, await File.ReadAllBytesAsync(back));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Fio_verify_crc32c_with_four_jobs(string transport)
    {
        await using var server = await TestServer.StartAsync(size: 64 << 20);
        // Four jobs, each on its own connection and its own 16 MiB region, all writing then verifying.
        var result = await Cli.RunAsync("fio", ["--name=verify", "--ioengine=nbd", "--uri=" + server.Uri(transport),
            "--rw=randwrite", "--bs=4k", "--iodepth=16", "--numjobs=4", "--size=16M", "--offset_increment=16M",
            "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--group_reporting", "--output-format=json"], timeout: TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.StdOut[result.StdOut.IndexOf('{', StringComparison.Ordinal)..]);
        var job = doc.RootElement.GetProperty("jobs")[0];
        Assert.Equal(0, job.GetProperty("error").GetInt32());
        Assert.Equal(64L << 20, job.GetProperty("write").GetProperty("io_bytes").GetInt64());
        Assert.Equal(64L << 20, job.GetProperty("read").GetProperty("io_bytes").GetInt64());
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Qemu_io_on_a_removed_export_is_refused(string transport)
    {
        await using var server = await TestServer.StartAsync();
        await Cli.RunOkAsync("qemu-io", "-f", "raw", server.Uri(transport), "-c", "read 0 4k");
        Assert.True(server.Server.Exports.Remove(server.ExportName));
        var result = await Cli.RunAsync("qemu-io", ["-f", "raw", server.Uri(transport), "-c", "read 0 4k"]);
        Assert.NotEqual(0, result.ExitCode);
    }
}
