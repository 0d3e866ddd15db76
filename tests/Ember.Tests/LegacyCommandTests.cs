using Ember.Commands.Legacy;
using Ember.Tests.Support;

namespace Ember.Tests;

/// <summary>The seed's commands, verbatim, against a live Ember: the tables have the seed's rows and columns.</summary>
public class LegacyCommandTests(CliFixture cloud) : IClassFixture<CliFixture>
{
    [Fact]
    public async Task Cinder_create_allow_multiattach_prints_the_seed_rows_centered()
    {
        var result = (await cloud.RunAsync("cinder", "create", "--name", "m-a-001", "--allow-multiattach", "1")).EnsureSuccess();
        var table = result.StdOut;
        Tables.AssertWellFormed(table);
        Assert.Equal(Tables.Properties(SeedTables.CinderCreate), Tables.Properties(table));
        Assert.Equal(Tables.Lines(SeedTables.CinderCreate)[1].Length, Tables.Lines(SeedTables.CinderCreate)[0].Length);
        // Centered like cinderclient 1.x: the header line is identical to the seed's (same widest property, same id width).
        Assert.Equal(Tables.Lines(SeedTables.CinderCreate)[1], Tables.Lines(table)[1]);
        Assert.Equal("True", Tables.Value(table, "multiattach"));
        Assert.Equal("m-a-001", Tables.Value(table, "name"));
        Assert.Equal("1", Tables.Value(table, "size"));
        Assert.Equal("[]", Tables.Value(table, "attachments"));

        var id = Tables.Value(table, "id");
        var show = (await cloud.RunAsync("cinder", "show", "m-a-001")).EnsureSuccess().StdOut;
        Assert.Equal(id, Tables.Value(show, "id"));
        Assert.Equal(Tables.Properties(SeedTables.CinderCreate), Tables.Properties(show));

        var list = (await cloud.RunAsync("cinder", "list")).EnsureSuccess().StdOut;
        Tables.AssertWellFormed(list);
        Assert.Equal(CinderShell.ListColumns, Tables.Headers(list));
        Assert.Contains(Tables.Rows(list), r => r[0] == id && r[2] == "m-a-001" && r[6] == "True");
    }

    [Fact]
    public async Task Glance_image_list_has_the_seed_columns()
    {
        var file = Path.Combine(cloud.Root, "raw-image");
        await File.WriteAllBytesAsync(file, new byte[4096]);
        var created = (await cloud.RunAsync("glance", "image-create", "--name", "cirros", "--disk-format", "raw", "--container-format", "bare", "--file", file)).EnsureSuccess().StdOut;
        Assert.Equal(GlanceShell.ImageRows.Order(StringComparer.Ordinal), Tables.Properties(created));
        Assert.Equal("4096", Tables.Value(created, "size"));
        Assert.Equal("active", Tables.Value(created, "status"));

        var list = (await cloud.RunAsync("glance", "image-list")).EnsureSuccess().StdOut;
        Tables.AssertWellFormed(list);
        Assert.Equal(Tables.Headers(SeedTables.GlanceImageList), Tables.Headers(list));
        var id = Tables.Value(created, "id");
        Assert.Contains(Tables.Rows(list), r => r.SequenceEqual([id, "cirros", "raw", "bare", "4096", "active"]));

        var download = (await cloud.RunAsync("glance", "image-download", id)).EnsureSuccess();
        Assert.Equal(new byte[4096], download.StdOutBytes);
        (await cloud.RunAsync("glance", "image-delete", "cirros")).EnsureSuccess();
        Assert.DoesNotContain(id, (await cloud.RunAsync("glance", "image-list")).EnsureSuccess().StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cinder_type_create_and_list_use_the_2015_columns()
    {
        var created = (await cloud.RunAsync("cinder", "type-create", "legacy-type")).EnsureSuccess().StdOut;
        Assert.Equal(CinderShell.TypeColumns, Tables.Headers(created));
        var list = (await cloud.RunAsync("cinder", "type-list")).EnsureSuccess().StdOut;
        Assert.Contains(Tables.Rows(list), r => r[1] == "legacy-type");
    }

    [Fact]
    public async Task Cinder_delete_of_a_missing_volume_fails_with_a_message()
    {
        var result = await cloud.RunAsync("cinder", "delete", "no-such-volume");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("No volume with a name or ID of 'no-such-volume' exists.", result.StdErr, StringComparison.Ordinal);
    }
}
