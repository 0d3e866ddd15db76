using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Volume;

/// <summary>Debian's cinderclient and openstackclient on Cinder's admin APIs: QoS specs, type encryption, services, capabilities, retype, quota classes.</summary>
public sealed class VolumeAdminClientTests(EmberFixture fixture) : IClassFixture<EmberFixture>
{
    /// <summary>cinderclient does not read clouds.yaml; it gets the classic OS_* variables.</summary>
    private Task<CliResult> CinderAsync(params string[] args) => Cli.RunAsync("cinder", args, fixture.OpenRc());

    private Task<CliResult> OpenstackAsync(params string[] args) => fixture.RunClientAsync("openstack", "ember", args);

    [Fact]
    public async Task Cinder_and_openstack_clients_create_set_associate_and_delete_qos_specs()
    {
        var name = "qos-" + Guid.NewGuid().ToString("N")[..8];
        var typeName = "qos-type-" + Guid.NewGuid().ToString("N")[..8];
        (await CinderAsync("qos-create", name, "consumer=front-end", "read_iops_sec=2000")).EnsureSuccess();
        var type = (await OpenstackAsync("volume", "type", "create", typeName, "-f", "json")).EnsureSuccess().Json()["id"]!.GetValue<string>();
        var listed = (await CinderAsync("qos-list")).EnsureSuccess().StdOut;
        var line = Assert.Single(listed.Split('\n'), l => l.Contains(name, StringComparison.Ordinal));
        Assert.Contains("front-end", line, StringComparison.Ordinal);
        var id = line.Split('|', StringSplitOptions.TrimEntries)[1];

        (await CinderAsync("qos-key", id, "set", "iops_bytes=500")).EnsureSuccess();
        (await CinderAsync("qos-associate", id, type)).EnsureSuccess();
        Assert.Contains(typeName, (await CinderAsync("qos-get-association", id)).EnsureSuccess().StdOut, StringComparison.Ordinal);

        var shown = (await OpenstackAsync("volume", "qos", "show", name, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal("front-end", shown["consumer"]!.GetValue<string>());
        Assert.Equal("500", shown["properties"]!["iops_bytes"]!.GetValue<string>());
        Assert.Contains(typeName, shown["associations"]!.ToJsonString(), StringComparison.Ordinal);
        var typeShown = (await OpenstackAsync("volume", "type", "show", typeName, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(id, typeShown["qos_specs_id"]!.GetValue<string>());

        (await OpenstackAsync("volume", "qos", "set", "--property", "write_iops_sec=100", name)).EnsureSuccess();
        (await OpenstackAsync("volume", "qos", "unset", "--property", "iops_bytes", name)).EnsureSuccess();
        var listedByOpenstack = (await OpenstackAsync("volume", "qos", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        var row = Assert.Single(listedByOpenstack, q => q!["Name"]!.GetValue<string>() == name)!;
        Assert.Contains("write_iops_sec", row["Properties"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain("iops_bytes", row["Properties"]!.ToJsonString(), StringComparison.Ordinal);

        // In use: the plain delete fails, the forced one disassociates and deletes.
        var refused = await OpenstackAsync("volume", "qos", "delete", name);
        Assert.NotEqual(0, refused.ExitCode);
        (await OpenstackAsync("volume", "qos", "delete", "--force", name)).EnsureSuccess();
        Assert.DoesNotContain(name, (await CinderAsync("qos-list")).EnsureSuccess().StdOut, StringComparison.Ordinal);
        (await OpenstackAsync("volume", "type", "delete", typeName)).EnsureSuccess();
    }

    [Fact]
    public async Task Openstack_and_cinder_clients_keep_a_types_encryption_and_a_volume_of_it_is_refused()
    {
        var typeName = "enc-" + Guid.NewGuid().ToString("N")[..8];
        var typeId = (await OpenstackAsync("volume", "type", "create", "--encryption-provider", "luks", "--encryption-cipher", "aes-xts-plain64",
            "--encryption-key-size", "256", "--encryption-control-location", "front-end", typeName, "-f", "json")).EnsureSuccess().Json()["id"]!.GetValue<string>();
        var shown = (await OpenstackAsync("volume", "type", "show", "--encryption-type", typeName, "-f", "json")).EnsureSuccess().Json();
        var encryption = shown["encryption"]!;
        Assert.Equal("luks", encryption["provider"]!.GetValue<string>());
        Assert.Equal(256, encryption["key_size"]!.GetValue<int>());
        Assert.Contains(typeId, (await CinderAsync("encryption-type-list")).EnsureSuccess().StdOut, StringComparison.Ordinal);

        (await CinderAsync("encryption-type-update", "--control-location", "back-end", typeName)).EnsureSuccess();
        Assert.Contains("back-end", (await CinderAsync("encryption-type-show", typeName)).EnsureSuccess().StdOut, StringComparison.Ordinal);

        var refused = await OpenstackAsync("volume", "create", "--size", "1", "--type", typeName, "enc-vol");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("no key manager", refused.StdErr, StringComparison.Ordinal);

        (await CinderAsync("encryption-type-delete", typeName)).EnsureSuccess();
        Assert.Equal("{}", (await OpenstackAsync("volume", "type", "show", "--encryption-type", typeName, "-f", "json")).EnsureSuccess().Json()["encryption"]?.ToJsonString() ?? "{}");
        (await OpenstackAsync("volume", "type", "delete", typeName)).EnsureSuccess();
    }

    [Fact]
    public async Task Clients_disable_and_enable_the_volume_service_read_capabilities_retype_and_set_the_default_quota_class()
    {
        using var admin = new ApiClient(await fixture.ClientAsync());
        var pool = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/scheduler-stats/get_pools"))["pools"]![0]!["name"]!.GetValue<string>();
        var host = pool.Split('#')[0];

        (await OpenstackAsync("volume", "service", "set", "--disable", "--disable-reason", "maintenance", host, "cinder-volume")).EnsureSuccess();
        var services = (await OpenstackAsync("volume", "service", "list", "--long", "-f", "json")).EnsureSuccess().Json().AsArray();
        var volumeService = Assert.Single(services, s => s!["Binary"]!.GetValue<string>() == "cinder-volume")!;
        Assert.Equal("disabled", volumeService["Status"]!.GetValue<string>());
        Assert.Equal("maintenance", volumeService["Disabled Reason"]!.GetValue<string>());
        (await CinderAsync("service-enable", host, "cinder-volume")).EnsureSuccess();
        Assert.Matches(@"\| cinder-volume\s+\| \S+\s+\| nova\s+\| enabled\s+\|", (await CinderAsync("service-list")).EnsureSuccess().StdOut);

        var capabilities = (await CinderAsync("get-capabilities", pool)).EnsureSuccess().StdOut;
        Assert.Contains("volume_backend_name", capabilities, StringComparison.Ordinal);
        Assert.Contains("thin_provisioning", capabilities, StringComparison.Ordinal);

        // Retype in place with both clients.
        var first = "rt-" + Guid.NewGuid().ToString("N")[..8];
        var second = "rt-" + Guid.NewGuid().ToString("N")[..8];
        (await OpenstackAsync("volume", "type", "create", first)).EnsureSuccess();
        (await OpenstackAsync("volume", "type", "create", second)).EnsureSuccess();
        var volume = (await OpenstackAsync("volume", "create", "--size", "1", "--type", first, "rt-vol", "-f", "json")).EnsureSuccess().Json()["id"]!.GetValue<string>();
        await admin.WaitForAsync($"/volume/v3/volumes/{volume}", j => j["volume"]!["status"]!.GetValue<string>() == "available", TimeSpan.FromSeconds(60));
        (await OpenstackAsync("volume", "set", "--type", second, "--retype-policy", "never", volume)).EnsureSuccess();
        Assert.Equal(second, (await OpenstackAsync("volume", "show", volume, "-f", "json")).EnsureSuccess().Json()["type"]!.GetValue<string>());
        (await CinderAsync("retype", volume, first)).EnsureSuccess();
        Assert.Equal(first, (await OpenstackAsync("volume", "show", volume, "-f", "json")).EnsureSuccess().Json()["type"]!.GetValue<string>());
        (await OpenstackAsync("volume", "delete", volume)).EnsureSuccess();

        // The default quota class.
        var shown = (await CinderAsync("quota-class-show", "default")).EnsureSuccess().StdOut;
        Assert.Matches(@"\| volumes\s+\| \d+\s+\|", shown);
        var volumes = (await admin.SendAsync(HttpMethod.Get, "/volume/v3/os-quota-class-sets/default"))["quota_class_set"]!["volumes"]!.GetValue<int>();
        try
        {
            (await CinderAsync("quota-class-update", "--volumes", (volumes + 5).ToString(System.Globalization.CultureInfo.InvariantCulture), "default")).EnsureSuccess();
            Assert.Matches($@"\| volumes\s+\| {volumes + 5}\s+\|", (await CinderAsync("quota-class-show", "default")).EnsureSuccess().StdOut);
        }
        finally
        {
            (await CinderAsync("quota-class-update", "--volumes", volumes.ToString(System.Globalization.CultureInfo.InvariantCulture), "default")).EnsureSuccess();
        }
    }
}

