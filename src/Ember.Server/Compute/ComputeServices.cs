using Ember.Compute.Qemu;
using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
        new("os_compute_api:os-flavor-manage:update", PolicyRule.Admin),
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
        new("os_compute_api:servers:create:forced_host", PolicyRule.Admin),
        new("compute:servers:create:requested_destination", PolicyRule.Admin),
        new("os_compute_api:servers:show:host_status", PolicyRule.Admin),
        new("compute:server:topology:index", PolicyRule.Reader),
        new("compute:aggregates:images", PolicyRule.Admin),
        new("os_compute_api:servers:update", PolicyRule.Member),
        new("os_compute_api:servers:delete", PolicyRule.Member),
        new("os_compute_api:servers:stop", PolicyRule.Member),
        new("os_compute_api:servers:start", PolicyRule.Member),
        new("os_compute_api:servers:reboot", PolicyRule.Member),
        new("os_compute_api:servers:create_image", PolicyRule.Member),
        new("os_compute_api:servers:create_image:allow_volume_backed", PolicyRule.Member),
        new("os_compute_api:os-create-backup", PolicyRule.Member),
        new("os_compute_api:servers:rebuild", PolicyRule.Member),
        new("os_compute_api:os-shelve:shelve", PolicyRule.Member),
        new("os_compute_api:os-shelve:shelve_offload", PolicyRule.Admin),
        new("os_compute_api:os-shelve:unshelve", PolicyRule.Member),
        new("os_compute_api:os-shelve:unshelve_to_host", PolicyRule.Admin),
        new("os_compute_api:os-rescue", PolicyRule.Member),
        new("os_compute_api:os-unrescue", PolicyRule.Member),
        new("os_compute_api:servers:resize", PolicyRule.Member),
        new("os_compute_api:servers:confirm_resize", PolicyRule.Member),
        new("os_compute_api:servers:revert_resize", PolicyRule.Member),
        new("os_compute_api:os-console-output", PolicyRule.Member),
        new("os_compute_api:os-admin-password", PolicyRule.Member),
        new("os_compute_api:os-volumes-attachments:index", PolicyRule.Reader),
        new("os_compute_api:os-volumes-attachments:show", PolicyRule.Reader),
        new("os_compute_api:os-volumes-attachments:create", PolicyRule.Member),
        new("os_compute_api:os-volumes-attachments:delete", PolicyRule.Member),
        new("os_compute_api:os-volumes-attachments:update", PolicyRule.Member),
        new("os_compute_api:os-volumes-attachments:swap", PolicyRule.Admin),
        new("os_compute_api:os-attach-interfaces:list", PolicyRule.Reader),
        new("os_compute_api:os-attach-interfaces:show", PolicyRule.Reader),
        new("os_compute_api:os-attach-interfaces:create", PolicyRule.Member),
        new("os_compute_api:os-attach-interfaces:delete", PolicyRule.Member),
        new("os_compute_api:ips:index", PolicyRule.Reader),
        new("os_compute_api:ips:show", PolicyRule.Reader),
        new("os_compute_api:os-security-groups:list", PolicyRule.Reader),
        new("os_compute_api:os-security-groups:add", PolicyRule.Member),
        new("os_compute_api:os-security-groups:remove", PolicyRule.Member),
        new("os_compute_api:os-security-groups:get", PolicyRule.Reader),
        new("os_compute_api:os-security-groups:show", PolicyRule.Reader),
        new("os_compute_api:os-security-groups:create", PolicyRule.Member),
        new("os_compute_api:os-security-groups:update", PolicyRule.Member),
        new("os_compute_api:os-security-groups:delete", PolicyRule.Member),
        new("os_compute_api:os-security-groups:rule:create", PolicyRule.Member),
        new("os_compute_api:os-security-groups:rule:delete", PolicyRule.Member),
        new("os_compute_api:os-tenant-networks:list", PolicyRule.Reader),
        new("os_compute_api:os-tenant-networks:show", PolicyRule.Reader),
        new("os_compute_api:os-networks:list", PolicyRule.Reader),
        new("os_compute_api:os-networks:view", PolicyRule.Reader),
        new("os_compute_api:os-virtual-interfaces", PolicyRule.Reader),
        new("ember:servers:exec", PolicyRule.Member),
        new("os_compute_api:os-remote-consoles", PolicyRule.Member),
        new("os_compute_api:os-server-shares:index", PolicyRule.Reader),
        new("os_compute_api:os-server-shares:show", PolicyRule.Reader),
        new("os_compute_api:os-server-shares:create", PolicyRule.Member),
        new("os_compute_api:os-server-shares:delete", PolicyRule.Member),
        new("os_compute_api:os-evacuate", PolicyRule.Admin),
        new("os_compute_api:os-instance-actions:list", PolicyRule.Reader),
        new("os_compute_api:os-instance-actions:show", PolicyRule.Reader),
        new("os_compute_api:os-instance-actions:events", PolicyRule.Admin),
        // Nova's default: the project's readers see why an event failed (2.84), as they see the server's fault.
        new("os_compute_api:os-instance-actions:events:details", PolicyRule.Reader),
        new("os_compute_api:os-lock-server:lock", PolicyRule.Member),
        new("os_compute_api:os-lock-server:unlock", PolicyRule.Member),
        new("os_compute_api:os-lock-server:unlock:unlock_override", PolicyRule.Admin),
        new("os_compute_api:os-pause-server:pause", PolicyRule.Member),
        new("os_compute_api:os-pause-server:unpause", PolicyRule.Member),
        new("os_compute_api:os-suspend-server:suspend", PolicyRule.Member),
        new("os_compute_api:os-suspend-server:resume", PolicyRule.Member),
        new("os_compute_api:os-admin-actions:reset_state", PolicyRule.Admin),
        new("os_compute_api:os-server-tags:index", PolicyRule.Reader),
        new("os_compute_api:os-server-tags:show", PolicyRule.Reader),
        new("os_compute_api:os-server-tags:update", PolicyRule.Member),
        new("os_compute_api:os-server-tags:update_all", PolicyRule.Member),
        new("os_compute_api:os-server-tags:delete", PolicyRule.Member),
        new("os_compute_api:os-server-tags:delete_all", PolicyRule.Member),
        new("os_compute_api:server-metadata:index", PolicyRule.Reader),
        new("os_compute_api:server-metadata:show", PolicyRule.Reader),
        new("os_compute_api:server-metadata:create", PolicyRule.Member),
        new("os_compute_api:server-metadata:update", PolicyRule.Member),
        new("os_compute_api:server-metadata:update_all", PolicyRule.Member),
        new("os_compute_api:server-metadata:delete", PolicyRule.Member),
        // Key pairs belong to a user; any role in the project lets a user keep their own (Nova: admin or owner).
        new("os_compute_api:os-keypairs:index", PolicyRule.Reader),
        new("os_compute_api:os-keypairs:show", PolicyRule.Reader),
        new("os_compute_api:os-keypairs:create", PolicyRule.Reader),
        new("os_compute_api:os-keypairs:delete", PolicyRule.Reader),
        new("os_compute_api:os-quota-sets:show", PolicyRule.Reader),
        new("os_compute_api:os-quota-sets:detail", PolicyRule.Reader),
        new("os_compute_api:os-quota-sets:defaults", PolicyRule.Reader),
        new("os_compute_api:os-quota-sets:update", PolicyRule.Admin),
        new("os_compute_api:os-quota-sets:delete", PolicyRule.Admin),
        new("os_compute_api:os-quota-class-sets:show", PolicyRule.Reader),
        new("os_compute_api:os-quota-class-sets:update", PolicyRule.Admin),
        new("os_compute_api:limits", PolicyRule.Reader),
        new("os_compute_api:limits:other_project", PolicyRule.Admin),
    ];

    /// <summary>The compute API and scheduler; with <see cref="EmberRole.All"/> also this machine's compute host.</summary>
    public static IServiceCollection AddComputeServices(this IServiceCollection services, EmberRole role)
    {
        if (role == EmberRole.All)
        {
            // Host side first, so it is started last and stopped first (its VMs stop before the services they use).
            services.AddImageCache().AddSingleton<IHostImageSource, LocalImageSource>().AddComputeHost();
        }

        services.TryAddSingleton<ComputeStore>();
        return services
            .AddSingleton(new PolicyRules(s_policy))
            .AddSingleton(new PolicyRules(ComputeApi.ProxyAndEventPolicy))
            // API side, reaching each host through the contract: this process's own in-process, others through the database.
            .AddSingleton<ComputeHostStatus>()
            .AddSingleton<IComputeHosts, RegisteredComputeHosts>()
            .AddSingleton<HostCallClient>()
            .AddSingleton<HostMessageQueue>()
            .AddComputeServiceRegistry()
            .AddSingleton<ComputeScheduler>()
            .AddServerGroups()
            .AddSingleton<ComputeService>()
            .AddSingleton<KeypairStore>()
            .AddSingleton<ComputeQuotas>()
            .AddSingleton<ComputeBootstrap>()
            .AddSingleton<SerialConsole>()
            .AddSingleton<Volume.IVolumeConsumers, ComputeVolumeConsumers>();
    }

    /// <summary>The host's copies of images it cannot open in place, and the pass that trims them.</summary>
    public static IServiceCollection AddImageCache(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        return services
            .AddSingleton<ImageCache>()
            .AddSingleton<ImageCacheCleaner>()
            .AddHostedService(sp => sp.GetRequiredService<ImageCacheCleaner>());
    }

    /// <summary>
    /// The host side: the QEMU processes of the servers whose host is this node. The caller registers where images
    /// (<see cref="IHostImageSource"/>) and volumes (<see cref="Volume.IVolumeService"/>) come from.
    /// </summary>
    public static IServiceCollection AddComputeHost(this IServiceCollection services)
    {
        services.TryAddSingleton<ComputeStore>();
        return services
            .AddSingleton<VirtHost>()
            .AddSingleton<HostNetworking>()
            .AddSingleton<Metadata.MetadataAnswers>()
            .AddSingleton(sp => new QemuDriver(new QemuDriverOptions(), sp.GetRequiredService<ILoggerFactory>()))
            .AddSingleton<ComputeHostManager>()
            .AddHostedService(sp => sp.GetRequiredService<ComputeHostManager>())
            // The host's call listener, on only with Compute:HostListen; registered before the service registry, so it
            // is listening when the registry's first report publishes its URL.
            .AddSingleton<BootPasswords>()
            .AddSingleton<RegisteredCallers>()
            .AddSingleton<ComputeHostListener>()
            .AddHostedService(sp => sp.GetRequiredService<ComputeHostListener>());
    }
}
