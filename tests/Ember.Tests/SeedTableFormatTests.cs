using System.Text.Json.Nodes;
using Ember.Client.Output;
using Ember.Commands.Legacy;

namespace Ember.Tests;

/// <summary>Given the seed's own values, the personalities print the seed's tables character for character.</summary>
public class SeedTableFormatTests
{
    [Fact]
    public void Cinder_create_table_is_the_seed_table()
    {
        // The volume as a Liberty Cinder returned it for the seed's `cinder create`.
        var volume = JsonNode.Parse("""
            {"attachments": [], "availability_zone": "nova", "bootable": "false", "consistencygroup_id": null,
             "created_at": "2015-08-06T03:49:55.000000", "description": null, "encrypted": false,
             "id": "3f72623f-7530-4ed4-8310-4b1fa71e722a", "metadata": {}, "multiattach": true, "name": "m-a-001",
             "os-vol-host-attr:host": null, "os-vol-mig-status-attr:migstat": null, "os-vol-mig-status-attr:name_id": null,
             "os-vol-tenant-attr:tenant_id": "765c42b5ef4743abb88eef36d061daec", "os-volume-replication:driver_data": null,
             "os-volume-replication:extended_status": null, "replication_status": "disabled", "size": 1, "snapshot_id": null,
             "source_volid": null, "status": "creating", "user_id": "a5388ee18fee4dde89685d01a3e77a1e", "volume_type": null,
             "links": [{"rel": "self", "href": "http://x"}]}
            """)!.AsObject();
        Assert.Equal(SeedTables.CinderCreate, CinderShell.VolumeTable(volume));
    }

    [Fact]
    public void Glance_image_list_is_the_seed_table()
    {
        var table = LegacyFormat.List(GlanceShell.ListColumns,
            [["6a2c0338-3940-4735-870e-7b37a020ba43", "cirros", "qcow2", "bare", "13200896", "active"]], centered: false, sortBy: null);
        Assert.Equal(SeedTables.GlanceImageList, table);
    }

    [Fact]
    public void Nova_flavor_create_is_the_seed_table()
    {
        // Nova's reply to the seed's flavor-create (swap "" below microversion 2.75).
        var flavor = JsonNode.Parse("""
            {"id": "ee77e177-3b07-4988-82ef-1e723f42f29e", "name": "m1.micro", "ram": 256, "disk": 1, "vcpus": 1, "swap": "",
             "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": false, "os-flavor-access:is_public": true, "rxtx_factor": 1.0}
            """)!.AsObject();
        Assert.Equal(SeedTables.NovaFlavorCreate, LegacyFormat.List(NovaShell.FlavorColumns, [NovaShell.FlavorRow(flavor)], centered: false));
    }

    [Fact]
    public void Nova_boot_table_is_the_seed_table()
    {
        var server = JsonNode.Parse("""
            {"OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": "nova", "OS-EXT-SRV-ATTR:host": null,
             "OS-EXT-SRV-ATTR:hypervisor_hostname": null, "OS-EXT-SRV-ATTR:instance_name": "instance-00000002",
             "OS-EXT-STS:power_state": 0, "OS-EXT-STS:task_state": "scheduling", "OS-EXT-STS:vm_state": "building",
             "OS-SRV-USG:launched_at": null, "OS-SRV-USG:terminated_at": null, "accessIPv4": "", "accessIPv6": "",
             "adminPass": "rWBLfwLu88ki", "config_drive": "", "created": "2015-08-06T04:00:11Z",
             "flavor": {"id": "ee77e177-3b07-4988-82ef-1e723f42f29e"}, "hostId": "", "id": "b864311d-a459-4170-904b-4fae1909b02b",
             "image": {"id": "6a2c0338-3940-4735-870e-7b37a020ba43"}, "key_name": null, "metadata": {}, "name": "vm-001",
             "os-extended-volumes:volumes_attached": [{"id": "3f72623f-7530-4ed4-8310-4b1fa71e722a"}], "progress": 0,
             "security_groups": [{"name": "default"}], "status": "BUILD", "tenant_id": "765c42b5ef4743abb88eef36d061daec",
             "updated": "2015-08-06T04:00:12Z", "user_id": "a5388ee18fee4dde89685d01a3e77a1e", "addresses": {}, "links": []}
            """)!.AsObject();
        var table = NovaShell.ServerTable(server, "m1.micro (ee77e177-3b07-4988-82ef-1e723f42f29e)", "cirros (6a2c0338-3940-4735-870e-7b37a020ba43)");
        Assert.Equal(SeedTables.NovaBoot, table);
    }

    [Fact]
    public void Nova_volume_attach_is_the_seed_table()
    {
        var attachment = JsonNode.Parse("""
            {"device": "/dev/vdc", "id": "c6d8a766-0cee-4021-ae05-c74668725e3f", "serverId": "b864311d-a459-4170-904b-4fae1909b02b",
             "volumeId": "c6d8a766-0cee-4021-ae05-c74668725e3f"}
            """)!.AsObject();
        var table = LegacyFormat.Dict(NovaShell.VolumeAttachRows.Select(k => (k, LegacyFormat.NovaValue(attachment[k]))), centered: false);
        Assert.Equal(SeedTables.NovaVolumeAttach, table);
    }

    [Theory]
    [InlineData("ab", 6, "|   ab   |")] // even text, even excess: same both sides
    [InlineData("abc", 6, "|  abc   |")] // odd text, odd excess: extra space on the right
    [InlineData("ab", 5, "|   ab  |")] // even text, odd excess: extra space on the left
    public void Centering_follows_prettytable(string text, int width, string expected)
    {
        var table = new PrettyTable([new string('x', width)], centered: true);
        table.AddRow(text);
        Assert.Equal(expected, table.ToString().Split('\n')[3]);
    }

    [Fact]
    public void Python_values_print_like_python()
    {
        Assert.Equal("None", PyFormat.Str(null));
        Assert.Equal("[{'server_id': 'a', 'n': 1, 'ok': True}]", PyFormat.Str(JsonNode.Parse("""[{"server_id":"a","n":1,"ok":true}]""")));
        Assert.Equal("""[{"id": "v", "x": false}]""", PyFormat.Dumps(JsonNode.Parse("""[{"id":"v","x":false}]""")));
        Assert.Equal("1.0", PyFormat.Float(JsonValue.Create(1)));
    }
}
