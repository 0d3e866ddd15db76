using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Debian's cinderclient and openstackclient on Cinder's generic volume group APIs (3.11+).</summary>
public sealed class VolumeGroupClientTests(EmberFixture fixture) : IClassFixture<EmberFixture>
{
    /// <summary>cinderclient does not read clouds.yaml; it gets the classic OS_* variables.</summary>
    private Task<CliResult> CinderAsync(params string[] args) => Cli.RunAsync("cinder", ["--os-volume-api-version", "3.11", .. args], fixture.OpenRc());

    private Task<CliResult> OpenstackAsync(params string[] args) => fixture.RunClientAsync("openstack", "ember", ["--os-volume-api-version", "3.11", .. args]);

    private async Task<JsonNode> ListedAsync(string id) =>
        Assert.Single((await OpenstackAsync("volume", "group", "type", "list", "-f", "json")).EnsureSuccess().Json().AsArray(),
            t => t!["ID"]!.GetValue<string>() == id)!;

    [Fact]
    public async Task Cinder_and_openstack_clients_create_set_list_and_delete_group_types()
    {
        var name = "gt-" + Guid.NewGuid().ToString("N")[..8];
        (await CinderAsync("group-type-create", "--description", "made by cinder", name)).EnsureSuccess();
        var line = Assert.Single((await CinderAsync("group-type-list")).EnsureSuccess().StdOut.Split('\n'), l => l.Contains(name, StringComparison.Ordinal));
        var id = line.Split('|', StringSplitOptions.TrimEntries)[1];
        (await CinderAsync("group-type-key", id, "set", "consistent_group_snapshot_enabled=<is> False")).EnsureSuccess();
        Assert.Contains("consistent_group_snapshot_enabled", (await ListedAsync(id))["Properties"]!.ToJsonString(), StringComparison.Ordinal);

        // OSC 6.0 has no "volume group type unset", and its "show" fails in the client ("'Namespace' object has no attribute 'group'"): the list shows the type.
        (await OpenstackAsync("volume", "group", "type", "set", "--name", name + "-x", "--property", "k=v", id)).EnsureSuccess();
        (await CinderAsync("group-type-key", id, "unset", "consistent_group_snapshot_enabled")).EnsureSuccess();
        var listed = await ListedAsync(id);
        Assert.Equal(name + "-x", listed["Name"]!.GetValue<string>());
        Assert.DoesNotContain("consistent_group_snapshot_enabled", listed["Properties"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("\"k\"", listed["Properties"]!.ToJsonString(), StringComparison.Ordinal);

        (await CinderAsync("group-type-delete", id)).EnsureSuccess();
        Assert.DoesNotContain(name, (await OpenstackAsync("volume", "group", "type", "list", "-f", "json")).EnsureSuccess().StdOut, StringComparison.Ordinal);
    }
}
