using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

/// <summary>The admin and usage APIs of compute: availability zones, aggregates, tenant usage, migrations, hosts and the usage audit log.</summary>
public static class ComputeAdminServices
{
    /// <summary>Nova's policy names and defaults: zones are listed to anyone and a project reads its own usage; the rest is admin only.</summary>
    private static readonly KeyValuePair<string, PolicyRule>[] s_policy =
    [
        new("os_compute_api:os-availability-zone:list", PolicyRule.Reader),
        new("os_compute_api:os-availability-zone:detail", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:index", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:create", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:show", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:update", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:delete", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:add_host", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:remove_host", PolicyRule.Admin),
        new("os_compute_api:os-aggregates:set_metadata", PolicyRule.Admin),
        new("os_compute_api:os-simple-tenant-usage:list", PolicyRule.Admin),
        new("os_compute_api:os-simple-tenant-usage:show", PolicyRule.Reader),
        new("os_compute_api:os-migrations:index", PolicyRule.Admin),
        new("os_compute_api:servers:migrations:index", PolicyRule.Admin),
        new("os_compute_api:servers:migrations:show", PolicyRule.Admin),
        new("os_compute_api:servers:migrations:delete", PolicyRule.Admin),
        new("os_compute_api:os-hosts:list", PolicyRule.Admin),
        new("os_compute_api:os-hosts:show", PolicyRule.Admin),
        new("os_compute_api:os-hosts:update", PolicyRule.Admin),
        new("os_compute_api:os-hosts:start", PolicyRule.Admin),
        new("os_compute_api:os-hosts:shutdown", PolicyRule.Admin),
        new("os_compute_api:os-hosts:reboot", PolicyRule.Admin),
        new("os_compute_api:os-instance-usage-audit-log:list", PolicyRule.Admin),
        new("os_compute_api:os-instance-usage-audit-log:show", PolicyRule.Admin),
    ];

    public static IServiceCollection AddComputeAdmin(this IServiceCollection services) =>
        services
            .AddSingleton(new PolicyRules(s_policy))
            .AddSingleton<AggregateStore>()
            .AddSingleton<ServerUsageStore>();
}
