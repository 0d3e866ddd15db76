using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Network;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// Nova's other network proxies as Nova answers them with Neutron behind it: os-tenant-networks and os-networks (read, up
// to 2.35) show the network service's networks in nova-network's shapes; os-virtual-interfaces (up to 2.43) is
// nova-network's alone, a 400 with Neutron.
public static partial class ComputeApi
{
    /// <summary>Nova removed os-virtual-interfaces at 2.44.</summary>
    private const int LastVirtualInterfacesVersion = 43;

    /// <summary>nova-network's fields Nova's os-networks view shows; Neutron's networks have none of them but the id and label.</summary>
    private static readonly string[] s_novaNetworkFields = ["cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6", "netmask_v6"];

    /// <summary>The fields os-networks adds for the cloud admin.</summary>
    private static readonly string[] s_novaNetworkAdminFields =
    [
        "created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge", "vlan", "vpn_public_address", "vpn_public_port",
        "vpn_private_address", "dhcp_start", "project_id", "host", "bridge_interface", "multi_host", "priority", "rxtx_base", "mtu",
        "dhcp_server", "enable_dhcp", "share_address",
    ];

    private static void MapNetworkProxies(RouteGroupBuilder v21)
    {
        v21.MapGet("/os-tenant-networks", async (HttpContext http, NetworkService networks) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-tenant-networks:list");
            var (views, cidrs) = await ProjectNetworksAsync(networks, context, http.RequestAborted);
            return Json.Reply(new JsonObject { ["networks"] = new JsonArray([.. views.Select(v => (JsonNode)TenantNetwork(v, cidrs))]) });
        });
        v21.MapGet("/os-tenant-networks/{id}", async (HttpContext http, NetworkService networks, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-tenant-networks:show");
            var (views, cidrs) = await ProjectNetworksAsync(networks, context, http.RequestAborted);
            var view = views.FirstOrDefault(v => v.Network.Id == id) ?? throw ApiException.NotFound("Network not found");
            return Json.Reply(new JsonObject { ["network"] = TenantNetwork(view, cidrs) });
        });
        v21.MapGet("/os-networks", async (HttpContext http, NetworkService networks) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-networks:list");
            var views = await networks.ListNetworksAsync(context, http.RequestAborted);
            return Json.Reply(new JsonObject { ["networks"] = new JsonArray([.. views.Select(v => (JsonNode)NovaNetwork(v, context))]) });
        });
        v21.MapGet("/os-networks/{id}", async (HttpContext http, NetworkService networks, string id) =>
        {
            var context = AuthorizeProxy(http, "os_compute_api:os-networks:view");
            var views = await networks.ListNetworksAsync(context, http.RequestAborted);
            var view = views.FirstOrDefault(v => v.Network.Id == id) ?? throw ApiException.NotFound($"Network {id} could not be found.");
            return Json.Reply(new JsonObject { ["network"] = NovaNetwork(view, context) });
        });
        v21.MapGet("/servers/{id}/os-virtual-interfaces", (HttpContext http) =>
        {
            if (ComputeVersion.Of(http).AtLeast(LastVirtualInterfacesVersion + 1))
            {
                throw ApiException.NotFound("The resource could not be found.");
            }

            Authorize(http, "os_compute_api:os-virtual-interfaces");
            throw ApiException.BadRequest("Listing virtual interfaces is not supported by this cloud.");
        });
    }

    /// <summary>The networks a project may boot on (its own, shared and external ones), and each network's first subnet's cidr.</summary>
    private static async Task<(List<NetworkView> Views, Dictionary<string, string> Cidrs)> ProjectNetworksAsync(
        NetworkService networks, RequestContext context, CancellationToken cancellationToken)
    {
        var views = (await networks.ListNetworksAsync(context, cancellationToken))
            .Where(v => v.Network.ProjectId == context.ProjectId || v.Network.Shared || v.Network.External)
            .ToList();
        var cidrs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var subnet in await networks.ListSubnetsAsync(context, cancellationToken))
        {
            cidrs.TryAdd(subnet.NetworkId, subnet.Cidr);
        }

        return (views, cidrs);
    }

    private static JsonObject TenantNetwork(NetworkView view, Dictionary<string, string> cidrs) => new()
    {
        ["id"] = view.Network.Id,
        ["cidr"] = cidrs.GetValueOrDefault(view.Network.Id),
        ["label"] = view.Network.Name,
    };

    private static JsonObject NovaNetwork(NetworkView view, RequestContext context)
    {
        var json = new JsonObject { ["id"] = view.Network.Id, ["label"] = view.Network.Name };
        foreach (var field in s_novaNetworkFields.Concat(context.IsCloudAdmin ? s_novaNetworkAdminFields : []))
        {
            json[field] = null;
        }

        if (context.IsCloudAdmin)
        {
            json["project_id"] = view.Network.ProjectId;
            json["mtu"] = view.Network.Mtu;
        }

        return json;
    }
}
