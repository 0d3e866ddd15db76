using Ember.Server.Tests.Support;

namespace Ember.Server.Tests.Compute;

/// <summary>Debian's openstack client on the service registry: compute service list/set, hypervisor list/show/stats.</summary>
public sealed class ComputeServiceClientTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task Openstack_client_lists_and_disables_compute_services_and_shows_hypervisors()
    {
        await fixture.ReportAsync();
        var host = fixture.HostName;
        var services = (await fixture.RunClientAsync("openstack", "ember", "compute", "service", "list", "-f", "json")).EnsureSuccess().Json().AsArray();
        Assert.Equal(["nova-compute", "nova-scheduler", "nova-conductor"], services.Select(s => s!["Binary"]!.GetValue<string>()));
        Assert.All(services, s => Assert.Equal("up", s!["State"]!.GetValue<string>()));

        (await fixture.RunClientAsync("openstack", "ember", "compute", "service", "set", "--disable", "--disable-reason", "x", host, "nova-compute")).EnsureSuccess();
        try
        {
            var compute = (await fixture.RunClientAsync("openstack", "ember", "compute", "service", "list", "--long", "--service", "nova-compute", "-f", "json"))
                .EnsureSuccess().Json().AsArray().Single()!;
            Assert.Equal("disabled", compute["Status"]!.GetValue<string>());
            Assert.Equal("x", compute["Disabled Reason"]!.GetValue<string>());
        }
        finally
        {
            (await fixture.RunClientAsync("openstack", "ember", "compute", "service", "set", "--enable", host, "nova-compute")).EnsureSuccess();
        }

        var hypervisor = (await fixture.RunClientAsync("openstack", "ember", "hypervisor", "list", "-f", "json")).EnsureSuccess().Json().AsArray().Single()!;
        Assert.Equal(host, hypervisor["Hypervisor Hostname"]!.GetValue<string>());
        Assert.Equal("QEMU", hypervisor["Hypervisor Type"]!.GetValue<string>());
        Assert.Equal("up", hypervisor["State"]!.GetValue<string>());

        var shown = (await fixture.RunClientAsync("openstack", "ember", "hypervisor", "show", host, "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(host, shown["hypervisor_hostname"]!.GetValue<string>());
        Assert.Equal(host, shown["service_host"]!.GetValue<string>());
        Assert.Equal(Environment.ProcessorCount, shown["vcpus"]!.GetValue<int>());

        var stats = (await fixture.RunClientAsync("openstack", "ember", "hypervisor", "stats", "show", "-f", "json")).EnsureSuccess().Json();
        Assert.Equal(1, stats["count"]!.GetValue<int>());
        Assert.Equal(Environment.ProcessorCount, stats["vcpus"]!.GetValue<int>());
    }
}
