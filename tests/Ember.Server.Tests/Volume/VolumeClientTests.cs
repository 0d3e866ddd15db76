using System.Text.Json.Nodes;
using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Debian's real python3-cinderclient and python3-openstackclient against a live host.</summary>
public sealed class VolumeClientTests(EmberFixture fixture) : IClassFixture<EmberFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private async Task<JsonNode> WaitStatusAsync(string id, string status)
    {
        using var api = new ApiClient(await fixture.ClientAsync());
        return await api.WaitForAsync($"/volume/v3/volumes/{id}", j => j["volume"]!["status"]!.GetValue<string>() == status, s_wait);
    }

    /// <summary>cinderclient does not read clouds.yaml; it gets the classic OS_* variables.</summary>
    private Task<CliResult> CinderAsync(params string[] args) => Cli.RunAsync("cinder", args, fixture.OpenRc());

    [Fact]
    public async Task Openstack_client_lists_the_multiattach_type_and_creates_a_multiattach_volume()
    {
        var types = (await fixture.RunClientAsync("openstack", "ember", "volume", "type", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Contains(types, t => t!["Name"]!.GetValue<string>() == "multiattach");

        var created = (await fixture.RunClientAsync("openstack", "ember", "volume", "create", "--size", "1", "--type", "multiattach", "m-a-001", "-f", "json"))
            .EnsureSuccess().Json();
        var id = created["id"]!.GetValue<string>();
        await WaitStatusAsync(id, "available");
        var shown = (await fixture.RunClientAsync("openstack", "ember", "volume", "show", id, "-f", "json")).EnsureSuccess().Json();
        Assert.True(shown["multiattach"]!.GetValue<bool>());
        Assert.Equal("multiattach", shown["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cinder_client_creates_attaches_read_only_and_refuses_a_second_attachment()
    {
        (await CinderAsync("create", "--name", "v1", "1")).EnsureSuccess();
        using var api = new ApiClient(await fixture.ClientAsync());
        var list = await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?name=v1");
        var id = list["volumes"]![0]!["id"]!.GetValue<string>();
        await WaitStatusAsync(id, "available");
        var listed = (await CinderAsync("list")).EnsureSuccess().StdOut;
        Assert.Contains(id, listed, StringComparison.Ordinal);
        Assert.Contains("available", (await CinderAsync("show", id)).EnsureSuccess().StdOut, StringComparison.Ordinal);

        var attach = (await CinderAsync("--os-volume-api-version", "3.54", "attachment-create", "--mode", "ro", id, Guid.NewGuid().ToString()))
            .EnsureSuccess().StdOut;
        Assert.Contains(id, attach, StringComparison.Ordinal);
        var attachments = await api.SendAsync(HttpMethod.Get, $"/volume/v3/attachments/detail?volume_id={id}", apiVersion: "volume 3.54");
        Assert.Equal("ro", attachments["attachments"]![0]!["attach_mode"]!.GetValue<string>());
        Assert.Equal("reserved", attachments["attachments"]![0]!["status"]!.GetValue<string>());

        var second = await CinderAsync("--os-volume-api-version", "3.54", "attachment-create", id, Guid.NewGuid().ToString());
        Assert.NotEqual(0, second.ExitCode);
        Assert.True(second.StdErr.Contains("(HTTP 400)", StringComparison.Ordinal), second.StdOut + second.StdErr);
        Assert.Contains("to reserve", second.StdOut + second.StdErr, StringComparison.Ordinal);

        var attachmentId = attachments["attachments"]![0]!["id"]!.GetValue<string>();
        (await CinderAsync("--os-volume-api-version", "3.54", "attachment-delete", attachmentId)).EnsureSuccess();
        await WaitStatusAsync(id, "available");
    }

    [Fact]
    public async Task Demo_user_cannot_see_admin_volumes_through_the_client()
    {
        var created = (await fixture.RunClientAsync("openstack", "ember", "volume", "create", "--size", "1", "admin-only", "-f", "json")).EnsureSuccess().Json();
        var id = created["id"]!.GetValue<string>();
        var shown = await fixture.RunClientAsync("openstack", "ember-demo", "volume", "show", id);
        Assert.NotEqual(0, shown.ExitCode);
        var list = (await fixture.RunClientAsync("openstack", "ember-demo", "volume", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.DoesNotContain(list, v => v!["ID"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task Cinder_client_negotiates_its_own_maximum_without_a_downgrade_warning()
    {
        var list = (await CinderAsync("list")).EnsureSuccess();
        Assert.DoesNotContain("downgrading", list.StdErr, StringComparison.OrdinalIgnoreCase);
        var version = (await CinderAsync("version-list")).EnsureSuccess();
        Assert.Contains("3.70", version.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("downgrading", version.StdErr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Cinder_client_readonly_summary_and_default_type_commands_work()
    {
        (await CinderAsync("create", "--name", "ro-summary", "1")).EnsureSuccess();
        using var api = new ApiClient(await fixture.ClientAsync());
        var id = (await api.SendAsync(HttpMethod.Get, "/volume/v3/volumes?name=ro-summary"))["volumes"]![0]!["id"]!.GetValue<string>();
        await WaitStatusAsync(id, "available");

        (await CinderAsync("readonly-mode-update", id, "True")).EnsureSuccess();
        var shown = (await CinderAsync("show", id)).EnsureSuccess().StdOut;
        // cinderclient shows the metadata and, from it, a readonly row of its own.
        Assert.Matches(@"\| metadata\s+\| readonly : True\s+\|", shown);
        Assert.Matches(@"\| readonly\s+\| True\s+\|", shown);

        var summary = (await CinderAsync("summary")).EnsureSuccess().StdOut;
        Assert.Contains("total_count", summary, StringComparison.Ordinal);
        Assert.Contains("total_size", summary, StringComparison.Ordinal);

        var adminProject = (await api.SendAsync(HttpMethod.Get, "/identity/v3/projects?name=admin"))["projects"]![0]!["id"]!.GetValue<string>();
        (await CinderAsync("default-type-set", "multiattach", adminProject)).EnsureSuccess();
        var defaults = (await CinderAsync("default-type-list")).EnsureSuccess().StdOut;
        Assert.Contains(adminProject, defaults, StringComparison.Ordinal);
        (await CinderAsync("default-type-unset", adminProject)).EnsureSuccess();
        Assert.DoesNotContain(adminProject, (await CinderAsync("default-type-list")).EnsureSuccess().StdOut, StringComparison.Ordinal);

        (await CinderAsync("readonly-mode-update", id, "False")).EnsureSuccess();
        Assert.Matches(@"\| readonly\s+\| False\s+\|", (await CinderAsync("show", id)).EnsureSuccess().StdOut);
        (await CinderAsync("delete", id)).EnsureSuccess();
    }
}
