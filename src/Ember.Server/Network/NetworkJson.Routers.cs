using System.Text.Json.Nodes;

namespace Ember.Server.Network;

// Neutron's wire shapes of routers, their interfaces and floating IPs.
public static partial class NetworkJson
{
    public static JsonObject Router(RouterView view)
    {
        var r = view.Router;
        return new JsonObject
        {
            ["id"] = r.Id,
            ["name"] = r.Name,
            ["tenant_id"] = r.ProjectId,
            ["project_id"] = r.ProjectId,
            ["admin_state_up"] = r.AdminStateUp,
            ["status"] = "ACTIVE",
            ["external_gateway_info"] = r.GatewayNetworkId is { } network
                ? new JsonObject
                {
                    ["network_id"] = network,
                    ["enable_snat"] = r.EnableSnat,
                    ["external_fixed_ips"] = new JsonArray([.. view.GatewayIps.Select(ip => (JsonNode)new JsonObject { ["subnet_id"] = ip.SubnetId, ["ip_address"] = ip.IpAddress })]),
                }
                : null,
            ["description"] = r.Description,
            ["routes"] = new JsonArray(),
            ["availability_zone_hints"] = new JsonArray(),
            ["availability_zones"] = new JsonArray(),
            ["flavor_id"] = null,
            ["tags"] = new JsonArray(),
            ["created_at"] = Time(r.CreatedAt),
            ["updated_at"] = Time(r.UpdatedAt),
            ["revision_number"] = r.RevisionNumber,
        };
    }

    /// <summary>The body of add/remove_router_interface (not wrapped in a resource key).</summary>
    public static JsonObject RouterInterface(RouterInterfaceInfo info) => new()
    {
        ["id"] = info.RouterId,
        ["tenant_id"] = info.ProjectId,
        ["project_id"] = info.ProjectId,
        ["port_id"] = info.PortId,
        ["subnet_id"] = info.SubnetId,
        ["subnet_ids"] = Strings(info.SubnetIds),
        ["network_id"] = info.NetworkId,
    };

    public static JsonObject FloatingIp(FloatingIpRow f) => new()
    {
        ["id"] = f.Id,
        ["tenant_id"] = f.ProjectId,
        ["project_id"] = f.ProjectId,
        ["floating_network_id"] = f.FloatingNetworkId,
        ["floating_ip_address"] = f.FloatingIpAddress,
        ["router_id"] = f.RouterId,
        ["port_id"] = f.PortId,
        ["fixed_ip_address"] = f.FixedIpAddress,
        ["status"] = f.Status,
        ["description"] = f.Description,
        ["port_forwardings"] = new JsonArray(),
        ["qos_policy_id"] = null,
        ["tags"] = new JsonArray(),
        ["created_at"] = Time(f.CreatedAt),
        ["updated_at"] = Time(f.UpdatedAt),
        ["revision_number"] = f.RevisionNumber,
    };
}
