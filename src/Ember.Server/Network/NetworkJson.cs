using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;

namespace Ember.Server.Network;

/// <summary>Neutron's wire shapes of networks, subnets, ports, security groups and rules.</summary>
public static partial class NetworkJson
{
    private static string Time(DateTime t) => Ids.ZuluSeconds(t);

    private static JsonArray Strings(IEnumerable<string> items) => [.. items.Select(i => (JsonNode)i)];

    public static JsonObject Network(NetworkView view, RequestContext ctx)
    {
        var n = view.Network;
        var json = new JsonObject
        {
            ["id"] = n.Id,
            ["name"] = n.Name,
            ["tenant_id"] = n.ProjectId,
            ["project_id"] = n.ProjectId,
            ["admin_state_up"] = n.AdminStateUp,
            ["status"] = "ACTIVE",
            ["subnets"] = Strings(view.Subnets),
            ["shared"] = n.Shared,
            ["router:external"] = n.External,
            ["mtu"] = n.Mtu,
            ["port_security_enabled"] = n.PortSecurityEnabled,
            ["description"] = n.Description,
            ["availability_zone_hints"] = new JsonArray(),
            ["availability_zones"] = new JsonArray(),
            ["ipv4_address_scope"] = null,
            ["ipv6_address_scope"] = null,
            ["tags"] = new JsonArray(),
            ["created_at"] = Time(n.CreatedAt),
            ["updated_at"] = Time(n.UpdatedAt),
            ["revision_number"] = n.RevisionNumber,
        };
        if (ctx.IsCloudAdmin)
        {
            // Neutron shows the provider attributes to admins only.
            // Tenant networks are VXLAN segments; an external network is the host's own segment (DevStack's flat "public").
            json["provider:network_type"] = n.SegmentationId is null ? "flat" : "vxlan";
            json["provider:physical_network"] = n.SegmentationId is null ? "public" : null;
            json["provider:segmentation_id"] = n.SegmentationId;
        }

        return json;
    }

    public static JsonObject Subnet(SubnetRow s) => new()
    {
        ["id"] = s.Id,
        ["name"] = s.Name,
        ["network_id"] = s.NetworkId,
        ["tenant_id"] = s.ProjectId,
        ["project_id"] = s.ProjectId,
        ["ip_version"] = 4,
        ["cidr"] = s.Cidr,
        ["gateway_ip"] = s.GatewayIp,
        ["allocation_pools"] = new JsonArray([.. JsonSerializer.Deserialize(s.AllocationPools, NetworkStoredJson.Default.ListPoolText)!
            .Select(p => (JsonNode)new JsonObject { ["start"] = p.Start, ["end"] = p.End })]),
        ["enable_dhcp"] = s.EnableDhcp,
        ["dns_nameservers"] = Strings(JsonSerializer.Deserialize(s.DnsNameservers, NetworkStoredJson.Default.ListString)!),
        ["host_routes"] = new JsonArray([.. JsonSerializer.Deserialize(s.HostRoutes, NetworkStoredJson.Default.ListHostRouteText)!
            .Select(r => (JsonNode)new JsonObject { ["destination"] = r.Destination, ["nexthop"] = r.Nexthop })]),
        ["ipv6_address_mode"] = null,
        ["ipv6_ra_mode"] = null,
        ["subnetpool_id"] = null,
        ["service_types"] = new JsonArray(),
        ["description"] = s.Description,
        ["tags"] = new JsonArray(),
        ["created_at"] = Time(s.CreatedAt),
        ["updated_at"] = Time(s.UpdatedAt),
        ["revision_number"] = s.RevisionNumber,
    };

    public static JsonObject Port(PortView view, RequestContext ctx)
    {
        var p = view.Port;
        var json = new JsonObject
        {
            ["id"] = p.Id,
            ["name"] = p.Name,
            ["network_id"] = p.NetworkId,
            ["tenant_id"] = p.ProjectId,
            ["project_id"] = p.ProjectId,
            ["mac_address"] = p.MacAddress,
            ["admin_state_up"] = p.AdminStateUp,
            ["status"] = p.Status,
            ["device_owner"] = p.DeviceOwner,
            ["device_id"] = p.DeviceId,
            ["fixed_ips"] = new JsonArray([.. view.FixedIps.Select(ip => (JsonNode)new JsonObject { ["subnet_id"] = ip.SubnetId, ["ip_address"] = ip.IpAddress })]),
            ["security_groups"] = Strings(view.SecurityGroups),
            ["port_security_enabled"] = p.PortSecurityEnabled,
            ["allowed_address_pairs"] = new JsonArray([.. JsonSerializer.Deserialize(p.AllowedAddressPairs, NetworkStoredJson.Default.ListAddressPairText)!
                .Select(a => (JsonNode)new JsonObject { ["ip_address"] = a.IpAddress, ["mac_address"] = a.MacAddress })]),
            ["extra_dhcp_opts"] = new JsonArray(),
            ["binding:vnic_type"] = "normal",
            ["description"] = p.Description,
            ["tags"] = new JsonArray(),
            ["created_at"] = Time(p.CreatedAt),
            ["updated_at"] = Time(p.UpdatedAt),
            ["revision_number"] = p.RevisionNumber,
        };
        if (ctx.IsCloudAdmin)
        {
            // Neutron's binding:host_id, vif_type, vif_details and profile are admin-only.
            json["binding:host_id"] = p.BindingHostId;
            json["binding:vif_type"] = p.BindingHostId.Length == 0 ? "unbound" : "tap";
            json["binding:vif_details"] = new JsonObject();
            json["binding:profile"] = new JsonObject();
        }

        return json;
    }

    public static JsonObject SecurityGroup(SecurityGroupView view) => new()
    {
        ["id"] = view.Group.Id,
        ["name"] = view.Group.Name,
        ["description"] = view.Group.Description,
        ["tenant_id"] = view.Group.ProjectId,
        ["project_id"] = view.Group.ProjectId,
        ["security_group_rules"] = new JsonArray([.. view.Rules.Select(r => (JsonNode)Rule(r))]),
        ["stateful"] = true,
        ["shared"] = false,
        ["tags"] = new JsonArray(),
        ["created_at"] = Time(view.Group.CreatedAt),
        ["updated_at"] = Time(view.Group.UpdatedAt),
        ["revision_number"] = view.Group.RevisionNumber,
    };

    public static JsonObject Rule(SecurityGroupRuleRow r) => new()
    {
        ["id"] = r.Id,
        ["security_group_id"] = r.SecurityGroupId,
        ["tenant_id"] = r.ProjectId,
        ["project_id"] = r.ProjectId,
        ["direction"] = r.Direction,
        ["ethertype"] = r.Ethertype,
        ["protocol"] = r.Protocol,
        ["port_range_min"] = r.PortRangeMin,
        ["port_range_max"] = r.PortRangeMax,
        ["remote_ip_prefix"] = r.RemoteIpPrefix,
        ["remote_group_id"] = r.RemoteGroupId,
        ["remote_address_group_id"] = null,
        ["normalized_cidr"] = r.RemoteIpPrefix,
        ["description"] = r.Description,
        ["created_at"] = Time(r.CreatedAt),
        ["updated_at"] = Time(r.UpdatedAt),
        ["revision_number"] = r.RevisionNumber,
    };
}
