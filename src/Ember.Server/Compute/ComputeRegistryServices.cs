using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

/// <summary>The service registry, os-services, os-hypervisors and the scheduler's <see cref="ComputeFilter"/>.</summary>
public static class ComputeRegistryServices
{
    /// <summary>Nova's policy names; every one is admin only, as in Nova's defaults.</summary>
    private static readonly KeyValuePair<string, PolicyRule>[] s_policy =
    [
        new("os_compute_api:os-services:list", PolicyRule.Admin),
        new("os_compute_api:os-services:update", PolicyRule.Admin),
        new("os_compute_api:os-services:delete", PolicyRule.Admin),
        new("os_compute_api:os-hypervisors:list", PolicyRule.Admin),
        new("os_compute_api:os-hypervisors:list-detail", PolicyRule.Admin),
        new("os_compute_api:os-hypervisors:show", PolicyRule.Admin),
        new("os_compute_api:os-hypervisors:statistics", PolicyRule.Admin),
        new("os_compute_api:os-hypervisors:search", PolicyRule.Admin),
        new("os_compute_api:os-hypervisors:servers", PolicyRule.Admin),
        new("os_compute_api:os-hypervisors:uptime", PolicyRule.Admin),
    ];

    public static IServiceCollection AddComputeServiceRegistry(this IServiceCollection services) =>
        services
            .AddSingleton(new PolicyRules(s_policy))
            .AddSingleton<ComputeServiceStore>()
            .AddComputeAdmin()
            // Every process's certificate for calls between processes; the registry publishes its fingerprint.
            .AddSingleton<ServiceCertificate>()
            .AddSingleton<ComputeServiceRegistry>()
            .AddHostedService(sp => sp.GetRequiredService<ComputeServiceRegistry>())
            .AddSingleton<HostInventory>()
            .AddSingleton<IHostFilter, ComputeFilter>()
            .AddSingleton<IHostFilter, AvailabilityZoneFilter>()
            .AddSingleton<IHostFilter, CapacityFilter>();
}
