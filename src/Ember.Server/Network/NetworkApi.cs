using System.Globalization;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Network;

/// <summary>The Neutron v2.0 subset under /network: discovery, extensions, networks, subnets, ports, security groups, quotas, routers, floating IPs.</summary>
public static partial class NetworkApi
{
    /// <summary>Query keys that are not filters.</summary>
    private static readonly HashSet<string> s_notFilters = new(StringComparer.Ordinal) { "fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "fixed_ips" };

    /// <summary>The extensions Ember implements (alias, name, description), what clients probe before they send an attribute.</summary>
    private static readonly (string Alias, string Name, string Description)[] s_extensions =
    [
        ("security-group", "security-group", "The security groups extension."),
        ("quotas", "Quota management support", "Expose functions for quotas management per project"),
        ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
        ("port-security", "Port Security", "Provides port security"),
        ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
        ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
        ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
        ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
        ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
        ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
        ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
        ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
        ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
        ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
        ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
        ("l3_agent", "L3 agent scheduler", "Schedule routers among l3 agents"),
        ("agent", "agent", "The agent management extension."),
        ("ip-substring-filtering", "IP address substring filtering", "Provides IP address substring filtering when listing ports"),
    ];

    public static void MapNetworkApi(this IEndpointRouteBuilder app)
    {
        // Discovery needs no token, as in Neutron.
        app.MapGet("/network", (HttpContext http) => Json.Reply(new JsonObject
        {
            ["versions"] = new JsonArray(new JsonObject
            {
                ["id"] = "v2.0",
                ["status"] = "CURRENT",
                ["links"] = new JsonArray(new JsonObject { ["href"] = $"{http.BaseUrl()}/network/v2.0/", ["rel"] = "self" }),
            }),
        }));
        app.MapGet("/network/v2.0", (HttpContext http) => Json.Reply(new JsonObject
        {
            ["resources"] = new JsonArray([.. new[] { ("network", "networks"), ("subnet", "subnets"), ("port", "ports"), ("security_group", "security-groups"), ("security_group_rule", "security-group-rules"), ("quota", "quotas"), ("router", "routers"), ("floatingip", "floatingips"), ("agent", "agents") }
                .Select(r => (JsonNode)new JsonObject
                {
                    ["name"] = r.Item1,
                    ["collection"] = r.Item2,
                    ["links"] = new JsonArray(new JsonObject { ["href"] = $"{http.BaseUrl()}/network/v2.0/{r.Item2}", ["rel"] = "self" }),
                })]),
        }));

        var v2 = app.MapGroup("/network/v2.0");
        v2.MapGet("/extensions", (HttpContext http) =>
        {
            http.RequireProjectContext();
            return ReplyList(http, "extensions", s_extensions.Select(Extension));
        });
        v2.MapGet("/extensions/{alias}", (HttpContext http, string alias) =>
        {
            http.RequireProjectContext();
            return s_extensions.FirstOrDefault(e => e.Alias == alias) is { Alias: not null } found
                ? Json.Reply(new JsonObject { ["extension"] = Extension(found) })
                : throw new ApiException(ErrorKind.NotFound, $"Extension with alias {alias} does not exist") { Type = "HTTPNotFound" };
        });
        MapNetworks(v2);
        MapSubnets(v2);
        MapPorts(v2);
        MapSecurityGroups(v2);
        MapQuotas(v2);
        MapRouters(v2);
        MapAgents(v2);
    }

    private static JsonObject Extension((string Alias, string Name, string Description) e) => new()
    {
        ["alias"] = e.Alias,
        ["name"] = e.Name,
        ["description"] = e.Description,
        ["updated"] = "2013-01-01T10:00:00-00:00",
        ["links"] = new JsonArray(),
    };

    private static NetworkService Service(HttpContext http) => http.RequestServices.GetRequiredService<NetworkService>();

    /// <summary>The caller, allowed <paramref name="action"/> by the policy table, else Neutron's 403.</summary>
    private static RequestContext Authorize(HttpContext http, string action)
    {
        var ctx = http.RequireProjectContext();
        return http.Allows(ctx, action) ? ctx : throw NetworkErrors.PolicyNotAuthorized($"rule:{action}");
    }

    /// <summary>An attribute that needs its own rule (e.g. create_network:shared) when it is given.</summary>
    private static void AuthorizeAttribute(HttpContext http, RequestContext ctx, string action, bool given)
    {
        if (given && !http.Allows(ctx, action))
        {
            throw NetworkErrors.PolicyNotAuthorized($"rule:{action}");
        }
    }

    /// <summary>The resource object of a body ({"network": {...}}), refusing attributes Ember does not know as Neutron does.</summary>
    private static async Task<JsonObject> ReadResourceAsync(HttpContext http, string key, IReadOnlySet<string> allowed)
    {
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        return body[key] is JsonObject resource
            ? Known(resource, allowed)
            : throw NetworkErrors.BadRequest($"Resource body required: '{key}' is missing or not an object.");
    }

    private static JsonObject Known(JsonObject resource, IReadOnlySet<string> allowed)
    {
        var unknown = resource.Select(p => p.Key).Where(k => !allowed.Contains(k)).ToList();
        return unknown.Count > 0
            ? throw NetworkErrors.BadRequest($"Unrecognized attribute(s) '{Limits.Text(string.Join(", ", unknown), "attributes")}'")
            : resource;
    }

    /// <summary>The most resources one bulk create makes.</summary>
    public const int MaxBulk = 100;

    /// <summary>
    /// A create of one resource ({"network": {...}}) or Neutron's bulk create of several ({"networks": [{...}, ...]}): each is
    /// made in turn, and when one fails those made before it are deleted again and its error is the answer, so the bulk
    /// makes all or nothing (Neutron's emulated bulk for plugins without native bulk support).
    /// </summary>
    private static async Task<IResult> CreateAsync(HttpContext http, string key, string collection, IReadOnlySet<string> allowed,
        Func<JsonObject, Task<JsonObject>> create, Func<string, Task> delete)
    {
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        if (body[collection] is not JsonArray items)
        {
            return body[key] is JsonObject resource
                ? Reply(http, key, await create(Known(resource, allowed)), StatusCodes.Status201Created)
                : throw NetworkErrors.BadRequest($"Resource body required: '{key}' is missing or not an object.");
        }

        if (items.Count is 0 or > MaxBulk)
        {
            throw NetworkErrors.BadRequest($"Bulk create takes 1 to {MaxBulk} {collection}, not {items.Count}.");
        }

        var resources = items.Select(item => item is JsonObject o ? Known(o, allowed) : throw NetworkErrors.BadRequest($"Each of '{collection}' must be an object.")).ToList();
        var made = new List<JsonObject>();
        try
        {
            foreach (var resource in resources)
            {
                made.Add(await create(resource));
            }
        }
        catch
        {
            for (var i = made.Count - 1; i >= 0; i--)
            {
                await UndoAsync(delete, IdOf(made[i])!);
            }

            throw;
        }

        return Json.Reply(new JsonObject { [collection] = new JsonArray([.. made.Select(m => (JsonNode)Fields(http, m))]) }, StatusCodes.Status201Created);
    }

    /// <summary>Deletes what a failed bulk create made; a resource someone else took away meanwhile is already gone.</summary>
    private static async Task UndoAsync(Func<string, Task> delete, string id)
    {
        try
        {
            await delete(id);
        }
        catch (ApiException)
        {
        }
    }

    private static string Text(JsonObject body, string key) => Limits.Text(Json.OptionalString(body, key), key) ?? "";

    private static string? OptionalText(JsonObject body, string key) => body.ContainsKey(key) ? Text(body, key) : null;

    /// <summary>A list of strings (security_groups, dns_nameservers); null when absent.</summary>
    private static List<string>? StringList(JsonObject body, string key, int max = 64)
    {
        if (body[key] is null)
        {
            return body.ContainsKey(key) ? [] : null;
        }

        if (body[key] is not JsonArray array || array.Count > max)
        {
            throw NetworkErrors.InvalidAttribute(key, $"expected a list of at most {max} strings");
        }

        return [.. array.Select(item => item is JsonValue v && v.TryGetValue(out string? s) ? Limits.Text(s, key)! : throw NetworkErrors.InvalidAttribute(key, "expected a list of strings"))];
    }

    /// <summary>A list of objects ({"start","end"}, {"subnet_id","ip_address"}), each read by <paramref name="read"/>.</summary>
    private static List<T>? ObjectList<T>(JsonObject body, string key, Func<JsonObject, T> read, int max = 64)
    {
        if (body[key] is null)
        {
            return body.ContainsKey(key) ? [] : null;
        }

        if (body[key] is not JsonArray array || array.Count > max)
        {
            throw NetworkErrors.InvalidAttribute(key, $"expected a list of at most {max} objects");
        }

        return [.. array.Select(item => item is JsonObject o ? read(o) : throw NetworkErrors.InvalidAttribute(key, "expected a list of objects"))];
    }

    /// <summary>One resource, cut down to the asked "fields" if any.</summary>
    private static IResult Reply(HttpContext http, string key, JsonObject item, int status = StatusCodes.Status200OK) =>
        Json.Reply(new JsonObject { [key] = Fields(http, item) }, status);

    /// <summary>
    /// A collection after Neutron's filters (any query key that names an attribute: equal to one of its values, or for a
    /// list attribute containing it; fixed_ips=ip_address=X / subnet_id=Y on ports), limit and marker, and "fields".
    /// </summary>
    private static IResult ReplyList(HttpContext http, string key, IEnumerable<JsonObject> items)
    {
        var query = http.Request.Query;
        var kept = items.Where(item => query.Where(q => !s_notFilters.Contains(q.Key)).All(q => !item.ContainsKey(q.Key) || q.Value.Any(v => Matches(item[q.Key], v ?? ""))));
        if (query.TryGetValue("fixed_ips", out var fixedIps))
        {
            kept = kept.Where(item => fixedIps.All(f => FixedIpMatches(item["fixed_ips"] as JsonArray, f ?? "")));
        }

        var list = kept.ToList();
        if (query["marker"].FirstOrDefault() is { Length: > 0 } marker)
        {
            var at = list.FindIndex(i => IdOf(i) == marker);
            list = at < 0 ? throw NetworkErrors.BadRequest($"Marker {marker} not found") : list[(at + 1)..];
        }

        var limit = QueryParams.Limit(query);
        var reply = new JsonObject();
        if (limit is > 0 && list.Count > limit)
        {
            list = list[..limit.Value];
            reply[key + "_links"] = new JsonArray(new JsonObject
            {
                ["rel"] = "next",
                ["href"] = $"{http.BaseUrl()}{http.Request.Path}?limit={limit}&marker={Uri.EscapeDataString(IdOf(list[^1]) ?? "")}",
            });
        }

        reply[key] = new JsonArray([.. list.Select(i => (JsonNode)Fields(http, i))]);
        return Json.Reply(reply);
    }

    /// <summary>What a marker names: the id, or an extension's alias (extensions have no id).</summary>
    private static string? IdOf(JsonObject item) => (item["id"] ?? item["alias"])?.GetValue<string>();

    private static bool Matches(JsonNode? node, string wanted) => node switch
    {
        JsonArray array => array.Any(element => Matches(element, wanted)),
        JsonValue value when value.TryGetValue(out bool flag) => Json.ParseBoolean(wanted) == flag,
        JsonValue value when value.TryGetValue(out long number) => wanted == number.ToString(CultureInfo.InvariantCulture),
        JsonValue value when value.TryGetValue(out string? text) => text == wanted,
        null => wanted is "" or "None" or "null",
        _ => false,
    };

    /// <summary>"ip_address=10.0.0.5", "subnet_id=ID" or "ip_address_substr=10.0": one of the port's fixed IPs has it.</summary>
    private static bool FixedIpMatches(JsonArray? ips, string filter)
    {
        var parts = filter.Split('=', 2);
        if (parts.Length != 2 || ips is null)
        {
            return false;
        }

        return parts[0] switch
        {
            "ip_address" or "subnet_id" => ips.Any(ip => ip?[parts[0]]?.GetValue<string>() == parts[1]),
            "ip_address_substr" => ips.Any(ip => ip?["ip_address"]?.GetValue<string>().Contains(parts[1], StringComparison.Ordinal) == true),
            _ => throw NetworkErrors.BadRequest($"Invalid fixed_ips filter '{Limits.Text(filter, "fixed_ips")}'"),
        };
    }

    /// <summary>Only the asked "fields" (repeatable), when any are asked.</summary>
    private static JsonObject Fields(HttpContext http, JsonObject item)
    {
        var fields = http.Request.Query["fields"].SelectMany(f => (f ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);
        if (fields.Count == 0)
        {
            return item;
        }

        var cut = new JsonObject();
        foreach (var (name, value) in item)
        {
            if (fields.Contains(name))
            {
                cut[name] = value?.DeepClone();
            }
        }

        return cut;
    }
}
