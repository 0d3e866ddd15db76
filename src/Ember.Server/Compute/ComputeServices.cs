using Ember.Compute.Qemu;
using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Compute;

public static class ComputeServices
{
    /// <summary>Who may call what, in Nova's policy names.</summary>
    private static readonly KeyValuePair<string, PolicyRule>[] s_policy =
    [
        new("os_compute_api:flavors:index", PolicyRule.Reader),
        new("os_compute_api:flavors:show", PolicyRule.Reader),
        new("os_compute_api:os-flavor-manage:create", PolicyRule.Admin),
        new("os_compute_api:os-flavor-manage:delete", PolicyRule.Admin),
        new("os_compute_api:os-flavor-extra-specs:index", PolicyRule.Reader),
        new("os_compute_api:os-flavor-extra-specs:show", PolicyRule.Reader),
        new("os_compute_api:os-flavor-extra-specs:create", PolicyRule.Admin),
        new("os_compute_api:os-flavor-extra-specs:update", PolicyRule.Admin),
        new("os_compute_api:os-flavor-extra-specs:delete", PolicyRule.Admin),
        new("os_compute_api:os-flavor-access", PolicyRule.Admin),
        new("os_compute_api:os-flavor-access:add_tenant_access", PolicyRule.Admin),
        new("os_compute_api:os-flavor-access:remove_tenant_access", PolicyRule.Admin),
        new("os_compute_api:servers:index", PolicyRule.Reader),
        new("os_compute_api:servers:detail", PolicyRule.Reader),
        new("os_compute_api:servers:show", PolicyRule.Reader),
        new("os_compute_api:servers:create", PolicyRule.Member),
        new("os_compute_api:servers:update", PolicyRule.Member),
        new("os_compute_api:servers:delete", PolicyRule.Member),
        new("os_compute_api:servers:stop", PolicyRule.Member),
        new("os_compute_api:servers:start", PolicyRule.Member),
        new("os_compute_api:servers:reboot", PolicyRule.Member),
        new("os_compute_api:os-console-output", PolicyRule.Member),
        new("os_compute_api:os-admin-password", PolicyRule.Member),
        new("os_compute_api:os-volumes-attachments:index", PolicyRule.Reader),
        new("os_compute_api:os-volumes-attachments:show", PolicyRule.Reader),
        new("os_compute_api:os-volumes-attachments:create", PolicyRule.Member),
        new("os_compute_api:os-volumes-attachments:delete", PolicyRule.Member),
        new("ember:servers:exec", PolicyRule.Member),
        new("os_compute_api:os-remote-consoles", PolicyRule.Member),
    ];

    public static IServiceCollection AddComputeServices(this IServiceCollection services)
    {
        return services
            .AddSingleton(new PolicyRules(s_policy))
            .AddSingleton<ComputeStore>()
            .AddSingleton<VirtHost>()
            .AddSingleton(sp => new QemuDriver(new QemuDriverOptions(), sp.GetRequiredService<ILoggerFactory>()))
            // Host side: the QEMU processes of the servers whose host is this node; started last, so stopped first.
            .AddSingleton<IHostImageSource, LocalImageSource>()
            .AddSingleton<ComputeHostManager>()
            .AddHostedService(sp => sp.GetRequiredService<ComputeHostManager>())
            // API side, reaching the host through the contract: in-process here, across the network in issue 13.
            .AddSingleton<IComputeHosts, RegisteredComputeHosts>()
            // Casts to hosts on other machines (issue 13): the queue exists everywhere; its pump runs on compute hosts.
            .AddSingleton<HostMessageQueue>()
            .AddComputeServiceRegistry()
            .AddSingleton<ComputeScheduler>()
            .AddServerGroups()
            .AddSingleton<ComputeService>()
            .AddSingleton<ComputeBootstrap>()
            .AddSingleton<SerialConsole>()
            .AddSingleton<Volume.IVolumeConsumers, ComputeVolumeConsumers>();
    }
}
