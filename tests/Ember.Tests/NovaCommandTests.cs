using Ember.Commands.Legacy;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>The seed's nova commands against a live Ember (compute API 2.60).</summary>
public class NovaCommandTests(CliFixture cloud) : IClassFixture<CliFixture>
{
    [Fact]
    public async Task Flavor_create_auto_prints_the_seed_columns_and_flavor_list_agrees()
    {
        var table = (await cloud.RunAsync("nova", "flavor-create", "m1.micro", "auto", "256", "1", "1")).EnsureSuccess().StdOut;
        Tables.AssertWellFormed(table);
        Assert.Equal(Tables.Headers(SeedTables.NovaFlavorCreate), Tables.Headers(table));
        var row = Assert.Single(Tables.Rows(table));
        Assert.True(Guid.TryParse(row[0], out _), row[0]);
        Assert.Equal(["m1.micro", "256", "1", "0"], row[1..5]);
        Assert.Equal(["1", "1.0", "True"], row[6..]);

        var list = (await cloud.RunAsync("nova", "flavor-list")).EnsureSuccess().StdOut;
        Assert.Equal(NovaShell.FlavorColumns, Tables.Headers(list));
        Assert.Contains(Tables.Rows(list), r => r[0] == row[0] && r[1] == "m1.micro");

        var modern = (await cloud.RunAsync("ember", "flavor", "show", "m1.micro", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(row[0], (string?)modern["id"]);
    }

    [Fact]
    public async Task Boot_with_a_block_device_mapping_prints_the_seed_rows()
    {
        (await cloud.RunAsync("nova", "flavor-create", "m1.boot", "auto", "128", "1", "1")).EnsureSuccess();
        var file = Path.Combine(cloud.Root, "boot.raw");
        await File.WriteAllBytesAsync(file, new byte[1 << 20]);
        (await cloud.RunAsync("glance", "image-create", "--name", "boot-image", "--disk-format", "raw", "--container-format", "bare", "--file", file)).EnsureSuccess();
        var volume = Tables.Value((await cloud.RunAsync("cinder", "create", "--name", "boot-vol", "--allow-multiattach", "1")).EnsureSuccess().StdOut, "id");
        (await cloud.RunAsync("ember", "volume", "show", volume)).EnsureSuccess();
        await WaitAvailableAsync(volume);

        var table = (await cloud.RunAsync("nova", "boot", "--flavor", "m1.boot", "--image", "boot-image",
            "--block-device-mapping", $"vdb={volume}:::0", "vm-001")).EnsureSuccess().StdOut;
        Tables.AssertWellFormed(table);
        Assert.Equal(Tables.Properties(SeedTables.NovaBoot), Tables.Properties(table));
        Assert.Equal("vm-001", Tables.Value(table, "name"));
        Assert.StartsWith("m1.boot (", Tables.Value(table, "flavor"), StringComparison.Ordinal);
        Assert.StartsWith("boot-image (", Tables.Value(table, "image"), StringComparison.Ordinal);
        Assert.Contains(volume, Tables.Value(table, "os-extended-volumes:volumes_attached"), StringComparison.Ordinal);

        var id = Tables.Value(table, "id");
        var list = (await cloud.RunAsync("nova", "list")).EnsureSuccess().StdOut;
        Assert.Equal(["ID", "Name", "Status", "Task State", "Power State", "Networks"], Tables.Headers(list));
        Assert.Contains(Tables.Rows(list), r => r[0] == id && r[1] == "vm-001");
        var servers = (await cloud.RunAsync("ember", "server", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(servers, s => (string?)s!["ID"] == id);

        (await cloud.RunAsync("ember", "server", "delete", id, "--wait")).EnsureSuccess();
        Assert.Equal(1, (await cloud.RunAsync("nova", "show", id)).ExitCode);
    }

    private async Task WaitAvailableAsync(string volume)
    {
        (await cloud.RunAsync("ember", "volume", "set", volume, "--name", "boot-vol")).EnsureSuccess();
        for (var i = 0; i < 600; i++)
        {
            var status = (await cloud.RunAsync("ember", "volume", "show", volume, "-f", "value", "-c", "status")).EnsureSuccess().StdOut.Trim();
            if (status == "available")
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"volume {volume} never became available");
    }
}
