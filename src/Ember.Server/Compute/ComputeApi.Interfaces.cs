using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Network;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

// os-interface, ips and a server's security groups: Nova's views of the server's ports, served from the network service.
public static partial class ComputeApi
{
    private static void MapInterfaces(RouteGroupBuilder v21)
    {
        const string collection = "/servers/{id}/os-interface";
        v21.MapGet(collection, async (HttpContext http, ComputeStore store, NetworkService networks, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-attach-interfaces:list");
            var server = await FindServerAsync(store, context, id);
            var ports = await networks.ServerPortViewsAsync(server.Id, http.RequestAborted);
            var version = ComputeVersion.Of(http);
            return Json.Reply(new JsonObject { ["interfaceAttachments"] = new JsonArray([.. ports.Select(p => (JsonNode)InterfaceAttachment(p, version))]) });
        });
        v21.MapGet(collection + "/{portId}", async (HttpContext http, ComputeStore store, NetworkService networks, string id, string portId) =>
        {
            var context = Authorize(http, "os_compute_api:os-attach-interfaces:show");
            var server = await FindServerAsync(store, context, id);
            var port = (await networks.ServerPortViewsAsync(server.Id, http.RequestAborted)).FirstOrDefault(p => p.Port.Id == portId)
                ?? throw ApiException.NotFound($"Instance {server.Id} does not have a port with id {portId}");
            return Json.Reply(new JsonObject { ["interfaceAttachment"] = InterfaceAttachment(port, ComputeVersion.Of(http)) });
        });
        v21.MapPost(collection, async (HttpContext http, ComputeStore store, ComputeService compute, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-attach-interfaces:create");
            var server = await FindServerAsync(store, context, id);
            var root = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            // Nova's schema makes the body optional: no interfaceAttachment attaches to the project's network.
            var body = root.ContainsKey("interfaceAttachment") ? Json.RequiredObject(root, "interfaceAttachment") : [];
            var version = ComputeVersion.Of(http);
            if (body.Select(p => p.Key).FirstOrDefault(k => k is not ("net_id" or "port_id" or "fixed_ips") && !(k == "tag" && version.AtLeast(49))) is { } unknown)
            {
                throw ApiException.BadRequest($"Additional properties are not allowed ('{unknown}' was unexpected)");
            }

            var networkId = UuidField(body, "net_id");
            var portId = UuidField(body, "port_id");
            var port = await compute.AttachInterfaceAsync(context, RequestId(http), server, networkId, portId, RequestedFixedIp(body), DeviceTag(body));
            return Json.Reply(new JsonObject { ["interfaceAttachment"] = InterfaceAttachment(port, version) });
        });
        v21.MapDelete(collection + "/{portId}", async (HttpContext http, ComputeStore store, ComputeService compute, string id, string portId) =>
        {
            var context = Authorize(http, "os_compute_api:os-attach-interfaces:delete");
            var server = await FindServerAsync(store, context, id);
            await compute.DetachInterfaceAsync(RequestId(http), server, portId);
            return Results.Accepted();
        });

        v21.MapGet("/servers/{id}/ips", async (HttpContext http, ComputeStore store, NetworkService networks, string id) =>
        {
            var context = Authorize(http, "os_compute_api:ips:index");
            var server = await FindServerAsync(store, context, id);
            var addresses = await networks.ServerAddressesAsync(server.Id, http.RequestAborted);
            var json = new JsonObject();
            foreach (var group in addresses.GroupBy(a => a.NetworkName, StringComparer.Ordinal))
            {
                json[group.Key] = Ips(group);
            }

            return Json.Reply(new JsonObject { ["addresses"] = json });
        });
        v21.MapGet("/servers/{id}/ips/{network}", async (HttpContext http, ComputeStore store, NetworkService networks, string id, string network) =>
        {
            var context = Authorize(http, "os_compute_api:ips:show");
            var server = await FindServerAsync(store, context, id);
            var addresses = (await networks.ServerAddressesAsync(server.Id, http.RequestAborted)).Where(a => a.NetworkName == network).ToList();
            return addresses.Count == 0
                ? throw ApiException.NotFound("Instance is not a member of specified network")
                : Json.Reply(new JsonObject { [network] = Ips(addresses) });
        });

        v21.MapGet("/servers/{id}/os-security-groups", async (HttpContext http, ComputeStore store, ComputeService compute, string id) =>
        {
            var context = Authorize(http, "os_compute_api:os-security-groups:list");
            var server = await FindServerAsync(store, context, id);
            var groups = await compute.ServerSecurityGroupsAsync(context, server);
            return Json.Reply(new JsonObject { ["security_groups"] = new JsonArray([.. groups.Select(g => (JsonNode)NovaSecurityGroup(g))]) });
        });
    }

    /// <summary>{"addSecurityGroup": {"name": ...}} and removeSecurityGroup: the group (name or id) on every port of the server; 202.</summary>
    private static async Task<IResult> ServerSecurityGroupActionAsync(HttpContext http, ComputeService compute, RequestContext context, ServerRow server, string action,
        JsonNode? argument)
    {
        var add = action == "addSecurityGroup";
        http.Enforce(context, add ? "os_compute_api:os-security-groups:add" : "os_compute_api:os-security-groups:remove");
        var name = argument is JsonObject body ? Json.OptionalString(body, "name") : null;
        if (string.IsNullOrWhiteSpace(name) || name.Length > 255)
        {
            throw ApiException.BadRequest("Security group name cannot be empty");
        }

        await compute.ChangeServerSecurityGroupAsync(context, server, name, add);
        return Results.Accepted();
    }

    private static string? UuidField(JsonObject body, string key)
    {
        var value = Json.OptionalString(body, key);
        return value is null || Ids.IsUuid(value)
            ? value
            : throw ApiException.BadRequest($"Invalid input for field/attribute {key}. Value: {value}. '{value}' is not a 'uuid'");
    }

    /// <summary>interfaceAttachment.fixed_ips: at most one entry, {"ip_address": an IPv4 address}.</summary>
    private static string? RequestedFixedIp(JsonObject body)
    {
        if (!body.TryGetPropertyValue("fixed_ips", out var node) || node is null)
        {
            return null;
        }

        if (node is not JsonArray { Count: <= 1 } list || list.Any(e => e is not JsonObject))
        {
            throw ApiException.BadRequest("Invalid input for field/attribute fixed_ips. It must be a list of at most one {\"ip_address\": ...}.");
        }

        if (list.Count == 0)
        {
            return null;
        }

        var address = Json.OptionalString((JsonObject)list[0]!, "ip_address");
        return address is not null && System.Net.IPAddress.TryParse(address, out var parsed) && parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? address
            : throw ApiException.BadRequest($"Invalid input for field/attribute ip_address. Value: {address ?? "None"}. It is not an IPv4 address");
    }

    /// <summary>Nova's interfaceAttachment: the port's addresses with their subnets, MAC, network, id and state; the device tag from 2.70.</summary>
    private static JsonObject InterfaceAttachment(PortView port, Microversion version)
    {
        var json = new JsonObject
        {
            ["fixed_ips"] = new JsonArray([.. port.FixedIps.Select(ip => (JsonNode)new JsonObject { ["subnet_id"] = ip.SubnetId, ["ip_address"] = ip.IpAddress })]),
            ["mac_addr"] = port.Port.MacAddress,
            ["net_id"] = port.Port.NetworkId,
            ["port_id"] = port.Port.Id,
            ["port_state"] = port.Port.Status,
        };
        if (version.AtLeast(70))
        {
            json["tag"] = port.Port.DeviceTag;
        }

        return json;
    }

    /// <summary>Nova's device tag (os-interface 2.49+, networks[].tag 2.32+): 1 to 60 characters, no ',' or '/'; null when absent.</summary>
    internal static string? DeviceTag(JsonObject body)
    {
        var tag = Json.OptionalString(body, "tag");
        return tag is null || (tag.Length is >= 1 and <= 60 && tag.IndexOfAny([',', '/']) < 0)
            ? tag
            : throw ApiException.BadRequest($"Invalid input for field/attribute tag. Value: {tag[..Math.Min(tag.Length, 60)]}. It must be 1 to 60 characters without ',' or '/'.");
    }

    private static JsonArray Ips(IEnumerable<ServerAddress> addresses) =>
        new([.. addresses.Select(a => (JsonNode)new JsonObject { ["version"] = 4, ["addr"] = a.Address })]);

    /// <summary>Nova's (nova-network era) security group view of a Neutron group: its ingress rules only, as Nova shows them.</summary>
    private static JsonObject NovaSecurityGroup(SecurityGroupView view) => new()
    {
        ["id"] = view.Group.Id,
        ["name"] = view.Group.Name,
        ["description"] = view.Group.Description,
        ["tenant_id"] = view.Group.ProjectId,
        ["rules"] = new JsonArray([.. view.Rules.Where(r => r.Direction == "ingress").Select(r => (JsonNode)NovaSecurityGroupRule(r, view))]),
    };

    private static JsonObject NovaSecurityGroupRule(SecurityGroupRuleRow rule, SecurityGroupView parent)
    {
        var ported = rule.Protocol is "tcp" or "udp" or "6" or "17";
        return new JsonObject
        {
            ["id"] = rule.Id,
            ["parent_group_id"] = rule.SecurityGroupId,
            ["ip_protocol"] = rule.Protocol,
            ["from_port"] = rule.PortRangeMin ?? (ported ? 1 : -1),
            ["to_port"] = rule.PortRangeMax ?? (ported ? 65535 : -1),
            ["ip_range"] = rule.RemoteGroupId is not null ? new JsonObject()
                : new JsonObject { ["cidr"] = rule.RemoteIpPrefix ?? (rule.Ethertype == "IPv6" ? "::/0" : "0.0.0.0/0") },
            ["group"] = rule.RemoteGroupId is null ? new JsonObject()
                : new JsonObject { ["tenant_id"] = parent.Group.ProjectId, ["name"] = rule.RemoteGroupId == parent.Group.Id ? parent.Group.Name : rule.RemoteGroupId },
        };
    }
}
