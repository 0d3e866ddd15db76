using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Identity;

public static class IdentityServices
{
    /// <summary>Who may call what, in Keystone's policy names.</summary>
    private static readonly PolicyRules s_policy = new(
    [
        new("identity:list_projects", PolicyRule.Admin),
        new("identity:get_project", PolicyRule.Admin),
        new("identity:create_project", PolicyRule.Admin),
        new("identity:update_project", PolicyRule.Admin),
        new("identity:delete_project", PolicyRule.Admin),
        new("identity:list_users", PolicyRule.Admin),
        new("identity:get_user", PolicyRule.Admin),
        new("identity:create_user", PolicyRule.Admin),
        new("identity:update_user", PolicyRule.Admin),
        new("identity:delete_user", PolicyRule.Admin),
        new("identity:list_roles", PolicyRule.Admin),
        new("identity:get_role", PolicyRule.Admin),
        new("identity:create_role", PolicyRule.Admin),
        new("identity:delete_role", PolicyRule.Admin),
        new("identity:create_grant", PolicyRule.Admin),
        new("identity:check_grant", PolicyRule.Admin),
        new("identity:list_grants", PolicyRule.Admin),
        new("identity:revoke_grant", PolicyRule.Admin),
        new("identity:list_role_assignments", PolicyRule.Admin),
        new("identity:list_domains", PolicyRule.Admin),
        new("identity:get_domain", PolicyRule.Reader),
        new("identity:list_services", PolicyRule.Admin),
        new("identity:get_service", PolicyRule.Admin),
        new("identity:list_endpoints", PolicyRule.Admin),
        new("identity:get_endpoint", PolicyRule.Admin),
        new("identity:list_regions", PolicyRule.Reader),
        new("identity:get_region", PolicyRule.Reader),
        new("identity:create_region", PolicyRule.Admin),
        new("identity:update_region", PolicyRule.Admin),
        new("identity:delete_region", PolicyRule.Admin),
        new("identity:update_role", PolicyRule.Admin),
        new("identity:create_domain", PolicyRule.Admin),
        new("identity:update_domain", PolicyRule.Admin),
        new("identity:delete_domain", PolicyRule.Admin),
        new("identity:create_service", PolicyRule.Admin),
        new("identity:update_service", PolicyRule.Admin),
        new("identity:delete_service", PolicyRule.Admin),
        new("identity:create_endpoint", PolicyRule.Admin),
        new("identity:update_endpoint", PolicyRule.Admin),
        new("identity:delete_endpoint", PolicyRule.Admin),
        new("identity:list_groups", PolicyRule.Admin),
        new("identity:get_group", PolicyRule.Admin),
        new("identity:create_group", PolicyRule.Admin),
        new("identity:update_group", PolicyRule.Admin),
        new("identity:delete_group", PolicyRule.Admin),
        new("identity:list_users_in_group", PolicyRule.Admin),
        new("identity:add_user_to_group", PolicyRule.Admin),
        new("identity:check_user_in_group", PolicyRule.Admin),
        new("identity:remove_user_from_group", PolicyRule.Admin),
        new("identity:list_groups_for_user", PolicyRule.Admin),
        new("identity:get_project_tags", PolicyRule.Admin),
        new("identity:get_project_tag", PolicyRule.Admin),
        new("identity:update_project_tags", PolicyRule.Admin),
        new("identity:delete_project_tags", PolicyRule.Admin),
        new("identity:create_project_tag", PolicyRule.Admin),
        new("identity:delete_project_tag", PolicyRule.Admin),
        new("identity:list_credentials", PolicyRule.Admin),
        new("identity:get_credential", PolicyRule.Admin),
        new("identity:create_credential", PolicyRule.Admin),
        new("identity:update_credential", PolicyRule.Admin),
        new("identity:delete_credential", PolicyRule.Admin),
        new("identity:ec2_create_credential", PolicyRule.Admin),
        new("identity:ec2_list_credentials", PolicyRule.Admin),
        new("identity:ec2_get_credential", PolicyRule.Admin),
        new("identity:ec2_delete_credential", PolicyRule.Admin),
        new("identity:create_implied_role", PolicyRule.Admin),
        new("identity:get_implied_role", PolicyRule.Admin),
        new("identity:check_implied_role", PolicyRule.Admin),
        new("identity:delete_implied_role", PolicyRule.Admin),
        new("identity:list_implied_roles", PolicyRule.Admin),
        new("identity:list_role_inference_rules", PolicyRule.Admin),
        new("identity:create_system_grant_for_user", PolicyRule.Admin),
        new("identity:check_system_grant_for_user", PolicyRule.Admin),
        new("identity:list_system_grants_for_user", PolicyRule.Admin),
        new("identity:revoke_system_grant_for_user", PolicyRule.Admin),
        new("identity:create_system_grant_for_group", PolicyRule.Admin),
        new("identity:check_system_grant_for_group", PolicyRule.Admin),
        new("identity:list_system_grants_for_group", PolicyRule.Admin),
        new("identity:revoke_system_grant_for_group", PolicyRule.Admin),
        new("identity:list_policies", PolicyRule.Admin),
        new("identity:get_policy", PolicyRule.Admin),
        new("identity:create_policy", PolicyRule.Admin),
        new("identity:update_policy", PolicyRule.Admin),
        new("identity:delete_policy", PolicyRule.Admin),
        new("identity:list_consumers", PolicyRule.Admin),
        new("identity:get_consumer", PolicyRule.Admin),
        new("identity:create_consumer", PolicyRule.Admin),
        new("identity:update_consumer", PolicyRule.Admin),
        new("identity:delete_consumer", PolicyRule.Admin),
        new("identity:list_endpoint_groups", PolicyRule.Admin),
        new("identity:get_endpoint_group", PolicyRule.Admin),
        new("identity:create_endpoint_group", PolicyRule.Admin),
        new("identity:update_endpoint_group", PolicyRule.Admin),
        new("identity:delete_endpoint_group", PolicyRule.Admin),
        new("identity:list_endpoints_associated_with_endpoint_group", PolicyRule.Admin),
        new("identity:list_projects_associated_with_endpoint_group", PolicyRule.Admin),
        new("identity:add_endpoint_group_to_project", PolicyRule.Admin),
        new("identity:get_endpoint_group_in_project", PolicyRule.Admin),
        new("identity:remove_endpoint_group_from_project", PolicyRule.Admin),
        new("identity:list_endpoint_groups_for_project", PolicyRule.Admin),
        new("identity:list_endpoints_for_project", PolicyRule.Admin),
        new("identity:add_endpoint_to_project", PolicyRule.Admin),
        new("identity:check_endpoint_in_project", PolicyRule.Admin),
        new("identity:remove_endpoint_from_project", PolicyRule.Admin),
        new("identity:list_projects_for_endpoint", PolicyRule.Admin),
        new("identity:get_domain_config", PolicyRule.Admin),
        new("identity:get_domain_config_default", PolicyRule.Admin),
        new("identity:create_domain_config", PolicyRule.Admin),
        new("identity:update_domain_config", PolicyRule.Admin),
        new("identity:delete_domain_config", PolicyRule.Admin),
    ]);

    public static IServiceCollection AddIdentityServices(this IServiceCollection services) => services
        .AddSingleton(s_policy)
        .AddSingleton(TimeProvider.System) // lock-out durations; tests move it by hand
        .AddSingleton<IdentityStore>()
        .AddSingleton<RegionStore>()
        .AddSingleton<CatalogStore>()
        .AddSingleton<CredentialStore>()
        .AddSingleton<PolicyStore>()
        .AddSingleton<EndpointFilterStore>()
        .AddSingleton<DomainConfigStore>()
        .AddSingleton<TokenService>()
        .AddSingleton<IdentityService>()
        .AddSingleton<LoginGuard>()
        .AddSingleton<IdentityBootstrap>();
}
