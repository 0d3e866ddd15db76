using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ember.Server;
using Ember.Testing;
using Ember.Tests.Support;
using Xunit.Abstractions;

namespace Ember.Tests;

/// <summary>
/// The seed (../shared/seed/000_f205b0b9876afcc9.txt), verbatim, against a fresh Ember with real VMs: the tiny
/// guest image uploaded as cirros, the seed's cinder/nova/glance commands run through symlinks to the built
/// executable, the in-guest steps through `ember server exec`, and every output the seed shows checked.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class SeedScenarioTests(CliFixture cloud, ITestOutputHelper output) : SeedScenarioCases(cloud, output), IClassFixture<CliFixture>
{
    private readonly string _volumesDir = Path.Combine(cloud.Root, "data", "volumes");

    protected override Task AssertStoredAsync(string volumeId, bool multiattach)
    {
        Assert.True(File.Exists(VolumeFile(volumeId)), $"no file for volume {volumeId}");
        return Task.CompletedTask;
    }

    protected override Task AssertNothingStoredAsync()
    {
        Assert.Empty(Directory.GetFiles(_volumesDir, "volume-*"));
        return Task.CompletedTask;
    }

    private string VolumeFile(string volumeId) => Path.Combine(_volumesDir, "volume-" + volumeId);
}

/// <summary>
/// The seed with its volumes in Ceph: every volume an RBD image of a real single-node cluster, which each VM's QEMU
/// opens itself with its rbd driver (no NBD), multi-attach images without exclusive-lock, as Cinder makes them.
/// </summary>
[Collection(GuestVms.Collection)]
public sealed class RbdSeedScenarioTests(RbdSeedScenarioTests.RbdCliFixture cloud, ITestOutputHelper output)
    : SeedScenarioCases(cloud, output), IClassFixture<RbdSeedScenarioTests.RbdCliFixture>
{
    private readonly CephCluster _ceph = cloud.Ceph;

    protected override async Task AssertStoredAsync(string volumeId, bool multiattach)
    {
        var info = JsonNode.Parse(await _ceph.RbdAsync("info", "--format", "json", $"{_ceph.Pool}/volume-{volumeId}"))!;
        var features = info["features"]!.AsArray().Select(f => (string)f!).ToList();
        Assert.Contains("layering", features);
        if (multiattach)
        {
            Assert.DoesNotContain("exclusive-lock", features);
        }
    }

    protected override async Task AssertNothingStoredAsync() =>
        Assert.Empty(JsonNode.Parse(await _ceph.RbdAsync("ls", "--format", "json", _ceph.Pool))!.AsArray());

    /// <summary>
    /// An Ember host whose volumes and image data (the guest image the servers boot from) are in RBD pools of a
    /// cluster of its own, as Cinder and Glance on Ceph; the host's compute reads the same keyring.
    /// </summary>
    public sealed class RbdCliFixture : CliFixture
    {
        public CephCluster Ceph { get; private set; } = null!;

        protected override async Task ConfigureAsync(EmberOptions options)
        {
            Ceph = await CephCluster.CreateAsync();
            options.Volume.Backend = "rbd";
            options.Volume.Rbd = new() { ConfPath = Ceph.ConfPath, User = CephCluster.User, KeyringPath = Ceph.KeyringPath, Pool = Ceph.Pool };
            await Ceph.AddPoolAsync("images");
            options.Image.Backend = "rbd";
            options.Image.Rbd = new() { ConfPath = Ceph.ConfPath, User = CephCluster.User, KeyringPath = Ceph.KeyringPath, Pool = "images" };
        }

        public override async Task DisposeAsync()
        {
            await base.DisposeAsync();
            if (Ceph is not null)
            {
                await Ceph.DisposeAsync();
            }
        }
    }
}

/// <summary>The seed's steps and checks, the same for every volume backend.</summary>
public abstract partial class SeedScenarioCases(CliFixture cloud, ITestOutputHelper output) : IDisposable
{
    /// <summary>cinder rows whose seed values depend on the moment, the user or the deployment (checked separately).</summary>
    private static readonly string[] s_volumeRowsOfTheMoment =
        ["id", "created_at", "os-vol-tenant-attr:tenant_id", "user_id", "status", "os-vol-host-attr:host", "volume_type"];

    /// <summary>nova boot rows that are the same on every cloud for a server still building.</summary>
    private static readonly string[] s_bootRowsAsSeed =
    [
        "OS-DCF:diskConfig", "OS-EXT-AZ:availability_zone", "OS-EXT-STS:power_state", "OS-EXT-STS:vm_state", "OS-SRV-USG:launched_at",
        "OS-SRV-USG:terminated_at", "accessIPv4", "accessIPv6", "config_drive", "key_name", "metadata", "progress", "security_groups", "status",
    ];

    private static readonly TimeSpan s_wait = TimeSpan.FromMinutes(5);

    private readonly LinkedCli _cli = new(cloud.Env());

    public void Dispose()
    {
        _cli.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The volume's data exists in the backend's store, as a multi-attach volume where it says so.</summary>
    protected abstract Task AssertStoredAsync(string volumeId, bool multiattach);

    /// <summary>The backend's store holds no volume.</summary>
    protected abstract Task AssertNothingStoredAsync();

    [Fact]
    public async Task The_seed_runs_verbatim_and_the_data_crosses_between_the_vms()
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await RunSeedAsync();
        }
        finally
        {
            await CleanUpAsync();
            output.WriteLine($"seed scenario (upload, boot two VMs, both parts, clean-up): {clock.Elapsed.TotalSeconds:F1} s");
        }

        // Nothing is left running: no QEMU of this host, no server, no volume, and nothing in the volume store.
        Assert.Empty(QemuProcessesUnder(cloud.Root));
        await AssertNothingStoredAsync();
        Assert.Empty((await _cli.RunAsync("ember", "server", "list", "-f", "json")).EnsureSuccess().Json().AsArray());
        Assert.Empty((await _cli.RunAsync("ember", "volume", "list", "-f", "json")).EnsureSuccess().Json().AsArray());
    }

    private async Task RunSeedAsync()
    {
        // The seed's cirros: the project's tiny guest image, uploaded under that name.
        var imageFile = await GuestImage.PathAsync();
        var uploaded = (await Run("glance", "image-create", "--name", "cirros", "--disk-format", "qcow2", "--container-format", "bare", "--file", imageFile)).StdOut;
        Assert.Equal("active", Tables.Value(uploaded, "status"));
        var imageId = Tables.Value(uploaded, "id");
        var imageSize = new FileInfo(imageFile).Length.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // 1. cinder create --name m-a-001 --allow-multiattach 1
        var volume1 = AssertVolumeTable((await Run("cinder", "create", "--name", "m-a-001", "--allow-multiattach", "1")).StdOut, "m-a-001");
        await WaitForVolumeAsync("m-a-001", v => (string?)v["status"] == "available");
        await AssertStoredAsync(volume1, multiattach: true);

        // 2. glance image-list; nova flavor-create m1.micro auto 256 1 1
        var images = (await Run("glance", "image-list")).StdOut;
        Tables.AssertWellFormed(images);
        Assert.Equal(Tables.Headers(SeedTables.GlanceImageList), Tables.Headers(images));
        Assert.Equal(new[] { imageId, "cirros", "qcow2", "bare", imageSize, "active" }, Assert.Single(Tables.Rows(images)));

        var flavorTable = (await Run("nova", "flavor-create", "m1.micro", "auto", "256", "1", "1")).StdOut;
        Tables.AssertWellFormed(flavorTable);
        Assert.Equal(Tables.Headers(SeedTables.NovaFlavorCreate), Tables.Headers(flavorTable));
        var flavorRow = Assert.Single(Tables.Rows(flavorTable));
        Assert.True(Guid.TryParse(flavorRow[0], out _), flavorRow[0]);
        Assert.Equal(Tables.Rows(SeedTables.NovaFlavorCreate)[0][1..], flavorRow[1..]);
        var flavorId = flavorRow[0];

        // 3. and 4. nova boot --flavor m1.micro --image cirros --block-device-mapping vdb=<m-a-001>:::0 vm-001 (and vm-002)
        var owner = Tables.Value((await Run("cinder", "show", volume1)).StdOut, "os-vol-tenant-attr:tenant_id");
        var vm1 = AssertBootTable((await Run("nova", "boot", "--flavor", "m1.micro", "--image", "cirros", "--block-device-mapping", $"vdb={volume1}:::0", "vm-001")).StdOut,
            "vm-001", flavorId, imageId, volume1, owner);
        var vm2 = AssertBootTable((await Run("nova", "boot", "--flavor", "m1.micro", "--image", "cirros", "--block-device-mapping", $"vdb={volume1}:::0", "vm-002")).StdOut,
            "vm-002", flavorId, imageId, volume1, owner);
        await WaitForActiveAsync("vm-001");
        await WaitForActiveAsync("vm-002");
        var servers = (await Run("nova", "list")).StdOut;
        Assert.Contains(Tables.Rows(servers), r => r.SequenceEqual([vm1, "vm-001", "ACTIVE", "-", "Running", ""]));
        Assert.Contains(Tables.Rows(servers), r => r.SequenceEqual([vm2, "vm-002", "ACTIVE", "-", "Running", ""]));
        var shared = await WaitForVolumeAsync("m-a-001", v => (string?)v["status"] == "in-use" && (v["attachments"] as JsonArray)?.Count == 2);
        Assert.Equal(new[] { vm1, vm2 }.Order(), ((JsonArray)shared["attachments"]!).Select(a => (string)a!["server_id"]!).Order());

        // 5. In vm-001: format m-a-001, mount it, write a file, unmount. Then vm-002 reads it and writes its own; vm-001 reads that.
        await WaitForAgentAsync("vm-001");
        await WaitForAgentAsync("vm-002");
        await InGuestAsync("vm-001", "", "mkdir /tmp/1", "sudo mkfs.ext3 /dev/vdb", "sudo mount /dev/vdb /tmp/1", "sudo chmod 777 /tmp/1",
            "echo \"vm-001\" > /tmp/1/1", "sudo umount /dev/vdb");
        await InGuestAsync("vm-002", "vm-001\n", "mkdir /tmp/1", "sudo mount /dev/vdb /tmp/1", "cat /tmp/1/1", "echo \"vm-002\" > /tmp/1/2", "sudo umount /dev/vdb");
        await InGuestAsync("vm-001", "vm-002\n", "sudo mount /dev/vdb /tmp/1", "cat /tmp/1/2", "sudo umount /dev/vdb");

        // Part two, 1. cinder create --name m-a-002 --allow-multiattach 1
        var volume2 = AssertVolumeTable((await Run("cinder", "create", "--name", "m-a-002", "--allow-multiattach", "1")).StdOut, "m-a-002");
        await WaitForVolumeAsync("m-a-002", v => (string?)v["status"] == "available");

        // 2. nova volume-attach vm-001 <m-a-002> /dev/vdc, and the same for vm-002 (asynchronous: wait for both attachments).
        AssertVolumeAttachTable((await Run("nova", "volume-attach", "vm-001", volume2, "/dev/vdc")).StdOut, volume2, vm1);
        AssertVolumeAttachTable((await Run("nova", "volume-attach", "vm-002", volume2, "/dev/vdc")).StdOut, volume2, vm2);
        await WaitForVolumeAsync("m-a-002", v => (string?)v["status"] == "in-use" && (v["attachments"] as JsonArray)?.Count == 2);

        // 3. The same exchange on /dev/vdc, once the hot-plugged disk shows up in each guest.
        await WaitForDeviceAsync("vm-001", "/dev/vdc");
        await WaitForDeviceAsync("vm-002", "/dev/vdc");
        await InGuestAsync("vm-001", "", "mkdir /tmp/2", "sudo mkfs.ext3 /dev/vdc", "sudo mount /dev/vdc /tmp/2", "sudo chmod 777 /tmp/2",
            "echo \"vdc-vm-001\" > /tmp/2/1", "sudo umount /dev/vdc");
        await InGuestAsync("vm-002", "vdc-vm-001\n", "mkdir /tmp/2", "sudo mount /dev/vdc /tmp/2", "cat /tmp/2/1", "echo \"vdc-vm-002\" > /tmp/2/2", "sudo umount /dev/vdc");
        await InGuestAsync("vm-001", "vdc-vm-002\n", "sudo mount /dev/vdc /tmp/2", "cat /tmp/2/2", "sudo umount /dev/vdc");

        // Clean up as a user would: nova delete, then cinder delete once the volumes are free.
        var deleted = (await Run("nova", "delete", "vm-001", "vm-002")).StdOut;
        Assert.Contains("Request to delete server vm-001 has been accepted.", deleted, StringComparison.Ordinal);
        Assert.Contains("Request to delete server vm-002 has been accepted.", deleted, StringComparison.Ordinal);
        await WaitUntilAsync("servers deleted", async () => (await _cli.RunAsync("ember", "server", "list", "-f", "json")).EnsureSuccess().Json().AsArray().Count == 0);
        foreach (var name in new[] { "m-a-001", "m-a-002" })
        {
            var freed = await WaitForVolumeAsync(name, v => (string?)v["status"] == "available");
            Assert.Empty((JsonArray)freed["attachments"]!);
        }

        await Run("cinder", "delete", "m-a-001", "m-a-002");
        await WaitUntilAsync("volumes deleted", async () => (await _cli.RunAsync("ember", "volume", "list", "-f", "json")).EnsureSuccess().Json().AsArray().Count == 0);
    }

    /// <summary>A `cinder create` table: the seed's rows, centered the same way, and the seed's values where they do not depend on the moment.</summary>
    private static string AssertVolumeTable(string table, string name)
    {
        Tables.AssertWellFormed(table);
        Assert.Equal(Tables.Properties(SeedTables.CinderCreate), Tables.Properties(table));
        Assert.Equal(Tables.Lines(SeedTables.CinderCreate)[1], Tables.Lines(table)[1]);
        foreach (var row in Tables.Rows(SeedTables.CinderCreate).Where(r => !s_volumeRowsOfTheMoment.Contains(r[0])))
        {
            Assert.Equal((row[0], row[0] == "name" ? name : row[1]), (row[0], Tables.Value(table, row[0])));
        }

        var id = Tables.Value(table, "id");
        Assert.True(Guid.TryParse(id, out _), id);
        Assert.Matches(CinderTime(), Tables.Value(table, "created_at"));
        Assert.Matches(HexId(), Tables.Value(table, "os-vol-tenant-attr:tenant_id"));
        Assert.Matches(HexId(), Tables.Value(table, "user_id"));
        // The seed caught its volume still "creating"; Ember makes a sparse file in well under a millisecond,
        // so cinderclient's GET after the POST may already see it available.
        Assert.Contains(Tables.Value(table, "status"), new[] { "creating", "available" });
        return id;
    }

    /// <summary>A `nova boot` table: the seed's 29 rows, the seed's values for a building server, this server's names and ids.</summary>
    private static string AssertBootTable(string table, string name, string flavorId, string imageId, string volumeId, string owner)
    {
        Tables.AssertWellFormed(table);
        Assert.Equal(Tables.Properties(SeedTables.NovaBoot), Tables.Properties(table));
        foreach (var row in s_bootRowsAsSeed)
        {
            Assert.Equal((row, Tables.Value(SeedTables.NovaBoot, row)), (row, Tables.Value(table, row)));
        }

        Assert.Equal("BUILD", Tables.Value(table, "status"));
        Assert.Equal(name, Tables.Value(table, "name"));
        Assert.Equal($"m1.micro ({flavorId})", Tables.Value(table, "flavor"));
        Assert.Equal($"cirros ({imageId})", Tables.Value(table, "image"));
        // 2.60 also says delete_on_termination; the seed's 2015 server showed only the id, first.
        Assert.StartsWith($"[{{\"id\": \"{volumeId}\"", Tables.Value(table, "os-extended-volumes:volumes_attached"), StringComparison.Ordinal);
        Assert.Contains(Tables.Value(table, "OS-EXT-STS:task_state"), new[] { "scheduling", "block_device_mapping", "networking", "spawning" });
        Assert.Matches("^instance-[0-9a-f]{8}$", Tables.Value(table, "OS-EXT-SRV-ATTR:instance_name"));
        Assert.Matches(@"^\S{8,}$", Tables.Value(table, "adminPass"));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", Tables.Value(table, "created"));
        Assert.Equal(owner, Tables.Value(table, "tenant_id"));
        Assert.Matches(HexId(), Tables.Value(table, "user_id"));
        var id = Tables.Value(table, "id");
        Assert.True(Guid.TryParse(id, out _), id);
        return id;
    }

    private static void AssertVolumeAttachTable(string table, string volumeId, string serverId)
    {
        Tables.AssertWellFormed(table);
        Assert.Equal(Tables.Lines(SeedTables.NovaVolumeAttach)[1], Tables.Lines(table)[1]);
        Assert.Equal(Tables.Properties(SeedTables.NovaVolumeAttach), Tables.Properties(table));
        Assert.Equal("/dev/vdc", Tables.Value(table, "device"));
        Assert.Equal(volumeId, Tables.Value(table, "id"));
        Assert.Equal(serverId, Tables.Value(table, "serverId"));
        Assert.Equal(volumeId, Tables.Value(table, "volumeId"));
    }

    /// <summary>The seed's lines for one guest, run as one `sh -c` script that stops at the first failure; its stdout must be <paramref name="expected"/>.</summary>
    private async Task InGuestAsync(string server, string expected, params string[] lines)
    {
        var result = await _cli.ExecAsync(server, string.Join('\n', ["set -e", .. lines]));
        Assert.True(result.ExitCode == 0, $"{server}: {string.Join("; ", lines)} failed (exit {result.ExitCode}): {result.StdOut}{result.StdErr}");
        if (expected.Length > 0)
        {
            Assert.Equal(expected, result.StdOut);
        }
    }

    /// <summary>Retries `ember server exec` while the guest agent is not up yet (409), up to 3 minutes.</summary>
    private async Task WaitForAgentAsync(string server) =>
        Assert.Equal("agent up\n", (await _cli.ExecAsync(server, "echo agent up")).EnsureSuccess().StdOut);

    private async Task WaitForDeviceAsync(string server, string device) =>
        (await _cli.ExecAsync(server, $"for i in $(seq 300); do [ -b {device} ] && exit 0; sleep 0.2; done; echo no {device}; exit 1")).EnsureSuccess();

    private async Task WaitForActiveAsync(string server)
    {
        var status = "";
        await WaitUntilAsync($"{server} ACTIVE", async () =>
        {
            status = Tables.Value((await Run("nova", "show", server)).StdOut, "status");
            Assert.NotEqual("ERROR", status);
            return status == "ACTIVE";
        });
    }

    private async Task<JsonObject> VolumeAsync(string name) =>
        (JsonObject)(await Run("ember", "volume", "show", name, "-f", "json")).Json();

    private async Task<JsonObject> WaitForVolumeAsync(string name, Func<JsonObject, bool> done)
    {
        JsonObject volume = [];
        await WaitUntilAsync($"volume {name}", async () =>
        {
            volume = await VolumeAsync(name);
            Assert.DoesNotContain("error", (string?)volume["status"] ?? "", StringComparison.Ordinal);
            return done(volume);
        });
        return volume;
    }

    private static async Task WaitUntilAsync(string what, Func<Task<bool>> done)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"gave up waiting for {what}");
            await Task.Delay(500);
        }
    }

    private async Task<CliOutput> Run(string program, params string[] args)
    {
        var result = await _cli.RunAsync(program, args);
        Assert.True(result.ExitCode == 0, $"{program} {string.Join(' ', args)} exited {result.ExitCode}: {result.StdOut}{result.StdErr}");
        return result;
    }

    /// <summary>Best effort, whatever state a failure left: no server and no volume survive the test.</summary>
    private async Task CleanUpAsync()
    {
        foreach (var server in new[] { "vm-001", "vm-002" })
        {
            if ((await _cli.RunAsync("ember", "server", "show", server)).ExitCode == 0)
            {
                await _cli.RunAsync("ember", ["server", "delete", server, "--wait"], timeout: s_wait);
            }
        }

        foreach (var volume in new[] { "m-a-001", "m-a-002" })
        {
            if ((await _cli.RunAsync("ember", "volume", "show", volume)).ExitCode == 0)
            {
                await _cli.RunAsync("ember", ["volume", "delete", volume, "--force", "--wait"], timeout: s_wait);
            }
        }
    }

    /// <summary>QEMU processes whose command line mentions <paramref name="root"/> (this host's data directory).</summary>
    private static List<int> QemuProcessesUnder(string root) =>
    [
        .. Directory.GetDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0).Where(pid => pid > 0).Where(pid =>
        {
            try
            {
                var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
                return cmdline.Contains("qemu-system", StringComparison.Ordinal) && cmdline.Contains(root, StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        }),
    ];

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")]
    private static partial Regex CinderTime();

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex HexId();
}
