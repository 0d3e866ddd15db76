using Ember.Server.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Ember.Server.Network;

public static class NetworkServices
{
    /// <summary>Neutron's default policies (neutron/conf/policies/*.py) for what Ember serves, mapped onto reader/member/admin.</summary>
    private static readonly Dictionary<string, PolicyRule> s_policy = new(StringComparer.Ordinal)
    {
        ["get_network"] = PolicyRule.Reader,
        ["create_network"] = PolicyRule.Member,
        ["update_network"] = PolicyRule.Member,
        ["delete_network"] = PolicyRule.Member,
        ["create_network:shared"] = PolicyRule.Admin,
        ["create_network:router:external"] = PolicyRule.Admin,
        ["create_network:provider:network_type"] = PolicyRule.Admin,
        ["update_network:shared"] = PolicyRule.Admin,
        ["update_network:router:external"] = PolicyRule.Admin,
        ["get_subnet"] = PolicyRule.Reader,
        ["create_subnet"] = PolicyRule.Member,
        ["update_subnet"] = PolicyRule.Member,
        ["delete_subnet"] = PolicyRule.Member,
        ["get_port"] = PolicyRule.Reader,
        ["create_port"] = PolicyRule.Member,
        ["update_port"] = PolicyRule.Member,
        ["delete_port"] = PolicyRule.Member,
        ["create_port:binding:host_id"] = PolicyRule.Admin,
        ["create_port:binding:profile"] = PolicyRule.Admin,
        ["create_port:device_owner"] = PolicyRule.Admin,
        ["update_port:binding:host_id"] = PolicyRule.Admin,
        ["update_port:binding:profile"] = PolicyRule.Admin,
        ["update_port:device_owner"] = PolicyRule.Admin,
        ["get_security_group"] = PolicyRule.Reader,
        ["create_security_group"] = PolicyRule.Member,
        ["update_security_group"] = PolicyRule.Member,
        ["delete_security_group"] = PolicyRule.Member,
        ["get_security_group_rule"] = PolicyRule.Reader,
        ["create_security_group_rule"] = PolicyRule.Member,
        ["delete_security_group_rule"] = PolicyRule.Member,
        ["get_router"] = PolicyRule.Reader,
        ["create_router"] = PolicyRule.Member,
        ["update_router"] = PolicyRule.Member,
        ["delete_router"] = PolicyRule.Member,
        ["add_router_interface"] = PolicyRule.Member,
        ["remove_router_interface"] = PolicyRule.Member,
        ["create_router:external_gateway_info:enable_snat"] = PolicyRule.Admin,
        ["create_router:external_gateway_info:external_fixed_ips"] = PolicyRule.Admin,
        ["update_router:external_gateway_info:enable_snat"] = PolicyRule.Admin,
        ["update_router:external_gateway_info:external_fixed_ips"] = PolicyRule.Admin,
        ["get_floatingip"] = PolicyRule.Reader,
        ["create_floatingip"] = PolicyRule.Member,
        ["create_floatingip:floating_ip_address"] = PolicyRule.Admin,
        ["update_floatingip"] = PolicyRule.Member,
        ["delete_floatingip"] = PolicyRule.Member,
        ["get_agent"] = PolicyRule.Admin,
        ["get_quota"] = PolicyRule.Reader,
        ["update_quota"] = PolicyRule.Admin,
        ["delete_quota"] = PolicyRule.Admin,
    };

    public static IServiceCollection AddNetworkServices(this IServiceCollection services)
    {
        services.AddSingleton(new PolicyRules([.. s_policy]));
        services.AddSingleton<NetworkStore>();
        // The data plane replaces this with its own (registered before, or by a later Replace).
        services.TryAddSingleton<INetworkChanges, NoNetworkChanges>();
        services.AddSingleton<NetworkService>();
        services.AddSingleton<NetworkBootstrap>();
        return services;
    }
}
