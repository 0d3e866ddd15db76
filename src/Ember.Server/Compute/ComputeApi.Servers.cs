using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    private static void MapServers(RouteGroupBuilder v21)
    {
        v21.MapPost("/servers", CreateServerAsync);
        v21.MapGet("/servers", (HttpContext http, ComputeStore store, ComputeService compute) => ListServersAsync(http, store, compute, detail: false));
        v21.MapGet("/servers/detail", (HttpContext http, ComputeStore store, ComputeService compute) => ListServersAsync(http, store, compute, detail: true));
        v21.MapGet("/servers/{id}", async (HttpContext http, ComputeStore store, string id) =>
        {
            var context = Authorize(http, "os_compute_api:servers:show");
            var server = await FindServerAsync(store, context, id);
            return Json.Reply(new JsonObject { ["server"] = await ServerViewAsync(http, store, context, server, await HostStatusesAsync(http, context)) });
        });
        v21.MapPut("/servers/{id}", async (HttpContext http, ComputeStore store, string id) =>
        {
            var context = Authorize(http, "os_compute_api:servers:update");
            var server = await FindServerAsync(store, context, id);
            var root = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
            RefuseUnknownUpdateFields(root, ComputeVersion.Of(http));
            var body = Json.RequiredObject(root, "server");
            if (body.ContainsKey("name"))
            {
                server = server with { Name = ServerName(Json.OptionalString(body, "name")) };
            }

            RefuseLaterFields(body, ComputeVersion.Of(http), "server", ("hostname", HostnameVersion));
            if (HostnameField(body, ComputeVersion.Of(http)) is { } hostname)
            {
                server = server with { Hostname = hostname };
            }

            if (body.ContainsKey("description") && ComputeVersion.Of(http).AtLeast(19))
            {
                server = server with { Description = Limits.Text(Json.OptionalString(body, "description"), "description") };
            }

            if (body.ContainsKey("accessIPv4"))
            {
                server = server with { AccessIpV4 = AccessIp(body, "accessIPv4", System.Net.Sockets.AddressFamily.InterNetwork) };
            }

            if (body.ContainsKey("accessIPv6"))
            {
                server = server with { AccessIpV6 = AccessIp(body, "accessIPv6", System.Net.Sockets.AddressFamily.InterNetworkV6) };
            }

            await store.UpdateServerAsync(server);
            // Read again for the reply: a delete that raced the update makes it a 404, not a null row (fuzz seed 20261130).
            return Json.Reply(new JsonObject
            {
                ["server"] = await UpdatedViewAsync(http, store, context, await FindServerAsync(store, context, id)),
            });
        });
        v21.MapDelete("/servers/{id}", async (HttpContext http, ComputeStore store, ComputeService compute, string id) =>
        {
            var context = Authorize(http, "os_compute_api:servers:delete");
            var server = await FindServerAsync(store, context, id);
            await compute.DeleteAsync(context, RequestId(http), server);
            return Results.NoContent();
        });
        v21.MapPost("/servers/{id}/action", ServerActionAsync);
    }

    /// <param name="hostStatus">Show and detail give it (<see cref="HostStatusesAsync"/>); update and rebuild do from 2.75, as Nova.</param>
    /// <param name="page">A list reads what its servers' views need for the whole page at once; a single server reads its own.</param>
    /// <param name="single">Show and update: from 2.71 with the server's group (Nova's list leaves it out).</param>
    private static async Task<JsonObject> ServerViewAsync(HttpContext http, ComputeStore store, RequestContext context, ServerRow server,
        Func<ServerRow, string>? hostStatus = null, ServerPage? page = null, bool single = true, bool updateView = false)
    {
        var version = ComputeVersion.Of(http);
        page ??= await ServerPage.ReadAsync(http, store, [server.Id]);
        var group = single && version.AtLeast(71)
            ? (await http.RequestServices.GetRequiredService<ServerGroupService>().GroupOfAsync(server.Id))?.Id
            : null;
        return ComputeJson.Server(http, context, server, [.. page.Bdms[server.Id]], version, [.. page.Addresses[server.Id]],
            hostStatus: hostStatus?.Invoke(server),
            extras: new ComputeJson.ServerExtras([.. page.Tags[server.Id]], group, updateView, [.. page.SecurityGroups[server.Id]]));
    }

    /// <summary>The reply of update and rebuild: Nova's shorter update view before 2.75, the show view from 2.75.</summary>
    private static async Task<JsonObject> UpdatedViewAsync(HttpContext http, ComputeStore store, RequestContext context, ServerRow server) =>
        ComputeVersion.Of(http).AtLeast(75)
            ? await ServerViewAsync(http, store, context, server, await HostStatusesAsync(http, context))
            : await ServerViewAsync(http, store, context, server, updateView: true);

    /// <summary>What the views of a page of servers read besides their rows, a few queries for the whole page.</summary>
    private sealed record ServerPage(ILookup<string, BdmRow> Bdms, ILookup<string, Network.ServerAddress> Addresses, ILookup<string, string> Tags,
        ILookup<string, string> SecurityGroups)
    {
        public static async Task<ServerPage> ReadAsync(HttpContext http, ComputeStore store, IReadOnlyList<string> serverIds)
        {
            var networks = http.RequestServices.GetRequiredService<Network.NetworkService>();
            return new ServerPage(
                await store.ListBdmsAsync(serverIds),
                await networks.ServerAddressesAsync(serverIds, http.RequestAborted),
                ComputeVersion.Of(http).AtLeast(26) ? await store.ListTagsAsync(serverIds) : Array.Empty<string>().ToLookup(t => t),
                await networks.ServerSecurityGroupNamesAsync(serverIds, http.RequestAborted));
        }
    }

    /// <summary>host_status for a request that may see it (2.16, Nova's show:host_status policy: admin); else null, and no registry read.</summary>
    private static async Task<Func<ServerRow, string>?> HostStatusesAsync(HttpContext http, RequestContext context) =>
        ComputeVersion.Of(http).AtLeast(16) && http.Allows(context, "os_compute_api:servers:show:host_status")
            ? await http.RequestServices.GetRequiredService<ComputeHostStatus>().HostStatusesAsync()
            : null;

    /// <summary>accessIPv4/accessIPv6 as Nova's schema takes them: an address of that family, or empty/null for none.</summary>
    private static string? AccessIp(JsonObject body, string key, System.Net.Sockets.AddressFamily family)
    {
        var text = body[key] is null ? null : body[key] is JsonValue v && v.TryGetValue(out string? s) ? s : body[key]!.ToJsonString();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        return text.Length <= 64 && System.Net.IPAddress.TryParse(text, out var address) && address.AddressFamily == family
            && (family == System.Net.Sockets.AddressFamily.InterNetworkV6 || text.Count(c => c == '.') == 3)
            ? address.ToString()
            : throw ApiException.BadRequest($"Invalid input for field/attribute {key}. Value: {text}. '{text}' is not a '{(family == System.Net.Sockets.AddressFamily.InterNetwork ? "ipv4" : "ipv6")}'");
    }

    private static string ServerName(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Length > 255
            ? throw ApiException.BadRequest("Invalid input for field/attribute name. It must be a non-empty string of at most 255 characters.")
            : name;

    /// <summary>POST /servers: 202 with adminPass; the server builds in the background.</summary>
    private static async Task<IResult> CreateServerAsync(HttpContext http, ComputeService compute, KeypairStore keypairs, ComputeQuotas quotas, ComputeStore store)
    {
        var context = Authorize(http, "os_compute_api:servers:create");
        var version = ComputeVersion.Of(http);
        var root = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var body = Json.RequiredObject(root, "server");
        RefuseLaterFields(body, version, "server", ("host", RequestedDestinationVersion), ("hypervisor_hostname", RequestedDestinationVersion),
            ("hostname", HostnameVersion));
        var request = ParseCreate(body, version) with
        {
            GroupId = GroupHint(root),
            SchedulerHints = ServerRequestSpec.HintsOf((root["os:scheduler_hints"] ?? root["OS-SCH-HNT:scheduler_hints"]) as JsonObject),
            Zone = ZoneRequest.Parse(ZoneName(body)),
        };
        if (request.Zone.IsForced)
        {
            http.Enforce(context, "os_compute_api:servers:create:forced_host");
        }

        request = request with { Zone = await RequestedDestinationAsync(http, context, body, request.Zone) };

        // The key must be one of the caller's key pairs (Nova's KeypairNotFound is a 400 here); the server keeps its public key.
        if (request.KeyName is { } keyName)
        {
            var keypair = await keypairs.FindAsync(context.UserId, keyName)
                ?? throw ApiException.BadRequest($"Keypair {keyName} not found for user {context.UserId}");
            request = request with { KeyData = keypair.PublicKey };
        }

        var (minCount, maxCount) = ServerCount(body);
        if (request.Hostname is not null && maxCount > 1)
        {
            throw ApiException.BadRequest("Unable to allocate a single hostname to multiple instances");
        }

        if (maxCount > 1 && (request.Volumes.Count > 0 || request.Nics.Any(n => n.PortId is not null)))
        {
            throw ApiException.BadRequest(request.Volumes.Count > 0
                ? "Unable to launch multiple instances with a volume attached: a volume cannot be given to several new servers at once."
                : "Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.");
        }

        // Nova creates as many as the quota allows between min_count and max_count, and refuses when that is below min_count.
        var count = await store.FindFlavorAsync(request.FlavorRef) is { } flavor
            ? await CheckServerQuotaAsync(quotas, context, flavor, minCount, maxCount)
            : maxCount;

        var adminPass = request.AdminPass ?? NewAdminPass();
        var reservation = "r-" + Ids.NewUuid()[..8];
        ServerRow? first = null;
        for (var index = 0; index < count; index++)
        {
            // Nova's multi_instance_display_name_template: "%(name)s-%(count)d", counted from 1, only when there are several.
            var one = request with
            {
                Name = count > 1 ? $"{request.Name}-{index + 1}" : request.Name,
                AdminPass = adminPass,
                ReservationId = reservation,
                LaunchIndex = index,
            };
            var created = await compute.CreateAsync(context, RequestId(http), one, version);
            first ??= created;
        }

        if (Json.OptionalBoolean(body, "return_reservation_id") == true)
        {
            return Json.Reply(new JsonObject { ["reservation_id"] = reservation }, StatusCodes.Status202Accepted);
        }

        var server = first!;
        http.Response.Headers.Location = $"{http.BaseUrl()}/compute/v2.1/servers/{server.Id}";
        return Json.Reply(new JsonObject
        {
            ["server"] = new JsonObject
            {
                ["id"] = server.Id,
                ["links"] = ComputeJson.Links(http, "servers", server.Id),
                ["OS-DCF:diskConfig"] = "MANUAL",
                ["security_groups"] = new JsonArray([.. (request.SecurityGroups is { Count: > 0 } names ? names : ["default"]).Select(name => (JsonNode)new JsonObject { ["name"] = name })]),
                ["adminPass"] = adminPass,
            },
        }, StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// Nova's instances, cores and ram quotas, counted before the create (Nova counts again after it; Ember does not,
    /// so concurrent creates may pass a limit by their number).
    /// </summary>
    /// <returns>How many servers to create: <paramref name="maxCount"/>, or fewer down to <paramref name="minCount"/> as the quota allows.</returns>
    private static async Task<int> CheckServerQuotaAsync(ComputeQuotas quotas, RequestContext context, FlavorRow flavor, int minCount, int maxCount)
    {
        var projectId = context.RequireProject();
        var limits = await quotas.LimitsOfAsync(projectId);
        var perServer = new[] { ("instances", 1), ("cores", flavor.Vcpus), ("ram", flavor.Ram) };
        if (perServer.All(r => limits[r.Item1] < 0))
        {
            return maxCount; // unlimited, the default: nothing to count on every boot
        }

        var usage = await quotas.UsageOfAsync(projectId, context.UserId);
        var allowed = maxCount;
        foreach (var (resource, each) in perServer.Where(r => limits[r.Item1] >= 0 && r.Item2 > 0))
        {
            allowed = Math.Min(allowed, (int)Math.Max(0, (limits[resource] - usage[resource]) / each));
        }

        if (allowed >= minCount)
        {
            return allowed;
        }

        // Nova names the first resource that cannot hold min_count servers.
        var (name, per) = perServer.First(r => limits[r.Item1] >= 0 && usage[r.Item1] + (long)r.Item2 * minCount > limits[r.Item1]);
        throw ApiException.Forbidden(
            $"Quota exceeded for {name}: Requested {per * minCount}, but already used {usage[name]} of {limits[name]} {name}");
    }

    /// <summary>Nova's most servers one create may ask for is bounded by the quota; this bounds the loop when the quota is unlimited.</summary>
    private const int MaxServersPerCreate = 100;

    /// <summary>min_count and max_count: integers of at least 1 (strings of digits too, as Nova's schema), min not above max.</summary>
    private static (int Min, int Max) ServerCount(JsonObject body)
    {
        static int? Count(JsonObject body, string key)
        {
            var node = body[key];
            if (node is null)
            {
                return null;
            }

            var text = node is JsonValue v && v.TryGetValue(out string? s) ? s : node.ToJsonString();
            return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 1
                ? n
                : throw ApiException.BadRequest($"Invalid input for field/attribute {key}. Value: {text}. It must be an integer of at least 1.");
        }

        var min = Count(body, "min_count") ?? 1;
        var max = Count(body, "max_count") ?? min;
        if (min > max)
        {
            throw ApiException.BadRequest("min_count must be <= max_count");
        }

        return max <= MaxServersPerCreate
            ? (min, max)
            : throw ApiException.BadRequest($"Invalid input for field/attribute max_count. Value: {max}. Ember creates at most {MaxServersPerCreate} servers per request.");
    }

    /// <summary>Nova's block_device validation: a volume made from an image or blank needs its size in GiB.</summary>
    private static int NewVolumeSize(JsonObject mapping) =>
        Json.OptionalInteger(mapping, "volume_size") is { } size and > 0 and <= int.MaxValue
            ? (int)size
            : throw ApiException.BadRequest("Block Device Mapping is Invalid: Images with destination_type 'volume' need to have a non-zero size specified");

    private static ServerCreateRequest ParseCreate(JsonObject body, Microversion version)
    {
        if (version.AtLeast(37) && !body.ContainsKey("networks"))
        {
            throw ApiException.BadRequest("Invalid input for field/attribute server. Value: {...}. 'networks' is a required property");
        }

        var (networkMode, nics) = ParseNetworks(body["networks"], version);

        var volumes = new List<BootVolume>();
        var newVolumes = new List<NewVolumeMapping>();
        string? imageFromBdm = null;
        if (body["block_device_mapping"] is JsonArray legacy)
        {
            foreach (var item in legacy.OfType<JsonObject>())
            {
                var volumeId = Json.OptionalString(item, "volume_id")
                    ?? throw ApiException.BadRequest("Block Device Mapping is Invalid: only volume_id mappings are supported.");
                var device = Json.OptionalString(item, "device_name");
                volumes.Add(new BootVolume(volumeId, device, device is "vda" or "/dev/vda" ? 0 : null,
                    Json.OptionalBoolean(item, "delete_on_termination") ?? false, null));
            }
        }

        if (body["block_device_mapping_v2"] is JsonArray mappings)
        {
            foreach (var item in mappings.OfType<JsonObject>())
            {
                var source = Json.OptionalString(item, "source_type");
                var destination = Json.OptionalString(item, "destination_type") ?? (source == "volume" ? "volume" : "local");
                var bootIndex = (int?)Json.OptionalInteger(item, "boot_index");
                var uuid = Json.OptionalString(item, "uuid");
                switch (source, destination)
                {
                    case ("volume", "volume") when uuid is not null:
                        volumes.Add(new BootVolume(uuid, Json.OptionalString(item, "device_name"), bootIndex,
                            Json.OptionalBoolean(item, "delete_on_termination") ?? false, Json.OptionalString(item, "tag")));
                        break;
                    case ("image", "local") when bootIndex == 0 && uuid is not null:
                        imageFromBdm = uuid;
                        break;
                    case ("image", "volume") when uuid is not null:
                    case ("blank", "volume"):
                        newVolumes.Add(new NewVolumeMapping(null, NewVolumeSize(item), bootIndex, Json.OptionalString(item, "device_name"),
                            Json.OptionalBoolean(item, "delete_on_termination") ?? false, Json.OptionalString(item, "tag"))
                        { ImageId = source == "image" ? uuid : null });
                        break;
                    default:
                        throw ApiException.BadRequest(
                            $"Block Device Mapping is Invalid: Ember supports volume->volume, image->volume and blank->volume mappings and image->local as the boot disk, not {source}->{destination}.");
                }
            }
        }

        var imageRef = Json.OptionalString(body, "imageRef");
        return new ServerCreateRequest
        {
            Name = ServerName(Json.OptionalString(body, "name")),
            Hostname = HostnameField(body, version),
            Description = version.AtLeast(19) ? Limits.Text(Json.OptionalString(body, "description"), "description") : null,
            ImageId = string.IsNullOrEmpty(imageRef) ? imageFromBdm : imageRef,
            FlavorRef = FlavorIdFromRef(Json.RequiredString(body, "flavorRef")),
            AccessIpV4 = AccessIp(body, "accessIPv4", System.Net.Sockets.AddressFamily.InterNetwork),
            AccessIpV6 = AccessIp(body, "accessIPv6", System.Net.Sockets.AddressFamily.InterNetworkV6),
            Metadata = Limits.NovaMetadata(Json.OptionalStringMap(body, "metadata") ?? []),
            UserData = UserData(Json.OptionalString(body, "user_data")),
            KeyName = Json.OptionalString(body, "key_name"),
            ConfigDrive = Json.OptionalBoolean(body, "config_drive") ?? false,
            AdminPass = Json.OptionalString(body, "adminPass"),
            Volumes = volumes,
            NewVolumes = newVolumes,
            NetworkMode = networkMode,
            Nics = nics,
            SecurityGroups = SecurityGroupNames(body),
        };
    }

    /// <summary>A bound on a create's security_groups (Nova has none; a port in 100 groups is already far beyond use).</summary>
    private const int MaxServerSecurityGroups = 100;

    /// <summary>Nova's security_groups: [{"name": name or id}, ...], each name of 1 to 255 characters.</summary>
    private static List<string> SecurityGroupNames(JsonObject body)
    {
        if (body["security_groups"] is null)
        {
            return [];
        }

        if (body["security_groups"] is not JsonArray items || items.Count > MaxServerSecurityGroups)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute security_groups. Value: is not a list of at most {MaxServerSecurityGroups} objects.");
        }

        return [.. items.Select(item => item is JsonObject group && Json.OptionalString(group, "name") is { Length: > 0 and <= Limits.MaxLength } name
            ? name
            : throw ApiException.BadRequest("Invalid input for field/attribute security_groups. Value: each item needs a name of 1 to 255 characters."))
            .Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Nova's limit on user_data: 65535 bytes of base64 (about 48 KiB of data).</summary>
    private const int MaxUserDataLength = 65535;

    /// <summary>user_data must be base64 (the guest gets the decoded bytes) and at most <see cref="MaxUserDataLength"/> characters.</summary>
    private static string? UserData(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (text.Length > MaxUserDataLength)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute user_data. Value: is too long (at most {MaxUserDataLength} characters of base64).");
        }

        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out _)
            ? text
            : throw ApiException.BadRequest("Invalid input for field/attribute user_data. Value: is not valid base64.");
    }

    /// <summary>The most interfaces one server create may ask for (QEMU's PCI slots and the guest's patience both end somewhere).</summary>
    private const int MaxNicsPerServer = 16;

    /// <summary>Nova's networks schema: "auto", "none" (2.37; older versions get them too), or a list of {uuid, port, fixed_ip, tag}.</summary>
    private static (NetworkMode Mode, List<NicRequest> Nics) ParseNetworks(JsonNode? networks, Microversion version)
    {
        switch (networks)
        {
            case null:
                return (NetworkMode.Default, []);
            case JsonValue value when value.TryGetValue(out string? mode) && mode is "auto" or "none":
                return (mode == "auto" ? NetworkMode.Auto : NetworkMode.None, []);
            case JsonArray list when list.Count <= MaxNicsPerServer:
                var nics = new List<NicRequest>();
                foreach (var item in list)
                {
                    if (item is not JsonObject entry)
                    {
                        throw ApiException.BadRequest("Invalid input for field/attribute networks. Each entry must be an object.");
                    }

                    var networkId = NetworkUuid(entry, "uuid");
                    var portId = NetworkUuid(entry, "port");
                    var fixedIp = Json.OptionalString(entry, "fixed_ip");
                    if (fixedIp is not null && !(System.Net.IPAddress.TryParse(fixedIp, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
                    {
                        throw ApiException.BadRequest($"Invalid input for field/attribute fixed_ip. Value: {fixedIp}. '{fixedIp}' is not a valid IPv4 address");
                    }

                    if (portId is not null && fixedIp is not null)
                    {
                        throw ApiException.BadRequest("Invalid input for field/attribute networks. A port and a fixed_ip cannot both be given.");
                    }

                    if (networkId is null && portId is null)
                    {
                        throw ApiException.BadRequest("Invalid input for field/attribute networks. Each entry needs a 'uuid' or a 'port'.");
                    }

                    nics.Add(new NicRequest(portId is null ? networkId : null, portId, fixedIp,
                        version.AtLeast(32) ? DeviceTag(entry) : null));
                }

                return (nics.Count == 0 ? NetworkMode.None : NetworkMode.Explicit, nics);
            case JsonArray:
                throw ApiException.BadRequest($"Invalid input for field/attribute networks. At most {MaxNicsPerServer} interfaces per server.");
            default:
                throw ApiException.BadRequest($"Invalid input for field/attribute networks. Value: {networks.ToJsonString()}. It must be 'auto', 'none' or a list.");
        }
    }

    private static string? NetworkUuid(JsonObject entry, string key)
    {
        var text = Json.OptionalString(entry, key);
        return text is null || Guid.TryParse(text, out _)
            ? text
            : throw ApiException.BadRequest($"Bad networks format: network uuid is not in proper format ({text})");
    }

    /// <summary>availability_zone as Nova's schema takes it: a name of 1 to 255 characters without surrounding spaces.</summary>
    private static string? ZoneName(JsonObject body)
    {
        var zone = Json.OptionalString(body, "availability_zone");
        return zone is null || (zone.Length is > 0 and <= 255 && zone.Trim() == zone)
            ? zone
            : throw ApiException.BadRequest(
                $"Invalid input for field/attribute availability_zone. Value: {zone}. It must be a non-empty string of at most 255 characters without surrounding spaces.");
    }

    /// <summary>flavorRef may be an id or a URL ending in the id.</summary>
    private static string FlavorIdFromRef(string flavorRef) =>
        flavorRef.Contains('/', StringComparison.Ordinal) ? flavorRef[(flavorRef.LastIndexOf('/') + 1)..] : flavorRef;

    private static async Task<IResult> ListServersAsync(HttpContext http, ComputeStore store, ComputeService compute, bool detail)
    {
        var context = Authorize(http, detail ? "os_compute_api:servers:detail" : "os_compute_api:servers:index");
        var query = http.Request.Query;
        var allTenants = context.IsCloudAdmin && (query.ContainsKey("all_tenants") && (Json.ParseBoolean(query["all_tenants"]) ?? true));
        var projectFilter = context.IsCloudAdmin && query["project_id"] is { Count: > 0 } p ? p.ToString() : null;
        // Nova matches the name as a regular expression.
        var name = query["name"] is { Count: > 0 } n ? QueryParams.UserRegex(n.ToString()) : null;
        var status = query["status"] is { Count: > 0 } s ? s.ToString() : null;
        var filter = await ServerListFilter.ParseAsync(query, context, ComputeVersion.Of(http), store);
        // Nova takes tenant_id as project_id when an admin lists all_tenants.
        var tenantFilter = allTenants && query["tenant_id"] is { Count: > 0 } t ? t.ToString() : null;
        var page = await compute.ListServersAsync(allTenants ? projectFilter ?? tenantFilter : projectFilter ?? context.ProjectId,
            server => (name is null || QueryParams.IsMatch(name, server.Name))
                && (status is null || string.Equals(ComputeJson.Status(server), status, StringComparison.OrdinalIgnoreCase))
                && filter.Matches(server),
            query["marker"] is { Count: > 0 } marker ? marker.ToString() : null, QueryParams.Limit(query));
        var result = new JsonArray();
        var hostStatus = detail ? await HostStatusesAsync(http, context) : null;
        var views = detail ? await ServerPage.ReadAsync(http, store, [.. page.Items.Select(server => server.Id)]) : null;
        foreach (var server in page.Items)
        {
            result.Add(detail
                ? await ServerViewAsync(http, store, context, server, hostStatus, views, single: false)
                : new JsonObject { ["id"] = server.Id, ["name"] = server.Name, ["links"] = ComputeJson.Links(http, "servers", server.Id) });
        }

        var body = new JsonObject { ["servers"] = result };
        if (QueryParams.NextLink(http, page, server => server.Id, QueryParams.Limit(http.Request.Query)) is { } next)
        {
            body["servers_links"] = next;
        }

        return Json.Reply(body);
    }

    /// <summary>POST /servers/{id}/action: one action per body, named by its only key.</summary>
    private static async Task<IResult> ServerActionAsync(HttpContext http, ComputeStore store, ComputeService compute, string id)
    {
        var context = http.RequireProjectContext();
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var (action, argument) = body.Count == 1 ? body.First() : throw ApiException.BadRequest("The action body must name exactly one action.");
        var server = await FindServerAsync(store, context, id);
        switch (action)
        {
            case "os-stop":
                http.Enforce(context, "os_compute_api:servers:stop");
                await compute.StopAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "os-start":
                http.Enforce(context, "os_compute_api:servers:start");
                await compute.StartAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "reboot":
                http.Enforce(context, "os_compute_api:servers:reboot");
                var type = argument is JsonObject reboot ? Json.OptionalString(reboot, "type") : null;
                if (type is not ("SOFT" or "HARD"))
                {
                    throw ApiException.BadRequest("Invalid input for field/attribute type. Value: " + (type ?? "None") + ". It must be SOFT or HARD.");
                }

                await compute.RebootAsync(context, RequestId(http), server, hard: type == "HARD");
                return Results.Accepted();
            case "pause":
                http.Enforce(context, "os_compute_api:os-pause-server:pause");
                await compute.PauseAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "unpause":
                http.Enforce(context, "os_compute_api:os-pause-server:unpause");
                await compute.UnpauseAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "suspend":
                http.Enforce(context, "os_compute_api:os-suspend-server:suspend");
                await compute.SuspendAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "resume":
                http.Enforce(context, "os_compute_api:os-suspend-server:resume");
                await compute.ResumeAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "lock":
                http.Enforce(context, "os_compute_api:os-lock-server:lock");
                await compute.LockAsync(context, RequestId(http), server, LockReason(argument, ComputeVersion.Of(http)));
                return Results.Accepted();
            case "unlock":
                http.Enforce(context, "os_compute_api:os-lock-server:unlock");
                await compute.UnlockAsync(context, RequestId(http), server,
                    () => http.Allows(context, "os_compute_api:os-lock-server:unlock:unlock_override"));
                return Results.Accepted();
            case "os-resetState":
                http.Enforce(context, "os_compute_api:os-admin-actions:reset_state");
                var state = argument is JsonObject reset ? Json.OptionalString(reset, "state") : null;
                await compute.ResetStateAsync(server, state ?? throw ApiException.BadRequest("Invalid input for field/attribute os-resetState. 'state' is a required property"));
                return Results.Accepted();
            case "os-getConsoleOutput":
                http.Enforce(context, "os_compute_api:os-console-output");
                var length = argument is JsonObject console ? Json.OptionalInteger(console, "length") : null;
                if (length is < -1)
                {
                    throw ApiException.BadRequest("Invalid input for field/attribute length. It must be -1 or a non-negative integer.");
                }

                return Json.Reply(new JsonObject { ["output"] = await compute.ConsoleOutputAsync(RequestId(http), server, length is null or -1 ? null : (int)length, http.RequestAborted) });
            case "changePassword":
                http.Enforce(context, "os_compute_api:os-admin-password");
                var password = argument is JsonObject change ? Json.OptionalString(change, "adminPass") : null;
                ComputeService.RequireUnlocked(context, server);
                await compute.ChangePasswordAsync(RequestId(http), server, password ?? throw ApiException.BadRequest("'adminPass' is a required property"), http.RequestAborted);
                return Results.Accepted();
            case "os-getSerialConsole":
                http.Enforce(context, "os_compute_api:os-remote-consoles");
                ComputeService.RequireRunning(server);
                var consoles = http.RequestServices.GetRequiredService<SerialConsole>();
                return Json.Reply(new JsonObject { ["console"] = new JsonObject { ["type"] = "serial", ["url"] = consoles.IssueUrl(http, server.Id) } });
            case "ember-exec":
                http.Enforce(context, "ember:servers:exec");
                return await ExecAsync(http, compute, server, argument as JsonObject);
            case "restore":
                return RestoreServer(http, context, server);
            case "forceDelete":
                return await ForceDeleteServerAsync(http, compute, context, server);
            case "addSecurityGroup" or "removeSecurityGroup":
                return await ServerSecurityGroupActionAsync(http, compute, context, server, action, argument);
            case "createImage":
                return await CreateImageAsync(http, store, compute, context, server, argument);
            case "createBackup":
                return await CreateBackupAsync(http, compute, context, server, argument);
            case "rebuild":
                return await RebuildAsync(http, store, compute, context, server, argument);
            case "resize":
                return await ResizeAsync(http, store, compute, context, server, argument);
            case "confirmResize":
                http.Enforce(context, "os_compute_api:servers:confirm_resize");
                await compute.ConfirmResizeAsync(context, RequestId(http), server);
                return Results.NoContent();
            case "revertResize":
                http.Enforce(context, "os_compute_api:servers:revert_resize");
                await compute.RevertResizeAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "shelve":
                http.Enforce(context, "os_compute_api:os-shelve:shelve");
                await compute.ShelveAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "shelveOffload":
                http.Enforce(context, "os_compute_api:os-shelve:shelve_offload");
                await compute.ShelveOffloadAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "unshelve":
                return await UnshelveAsync(http, compute, context, server, argument);
            case "rescue":
                return await RescueAsync(http, compute, context, server, argument);
            case "unrescue":
                http.Enforce(context, "os_compute_api:os-unrescue");
                await compute.UnrescueAsync(context, RequestId(http), server);
                return Results.Accepted();
            case "evacuate":
                http.Enforce(context, "os_compute_api:os-evacuate");
                return await EvacuateAsync(http, compute, server, argument as JsonObject ?? throw ApiException.BadRequest("'evacuate' must be an object."));
            default:
                throw ApiException.BadRequest($"There is no such action: {action}");
        }
    }

    /// <summary>
    /// {"evacuate":{"host":..., "adminPass":..., "onSharedStorage": bool before 2.14, "force": bool 2.29-2.67}}: 200; before
    /// 2.14 with the new admin password (Ember has no shared instance storage, so onSharedStorage must be false).
    /// </summary>
    private static async Task<IResult> EvacuateAsync(HttpContext http, ComputeService compute, ServerRow server, JsonObject argument)
    {
        var version = ComputeVersion.Of(http);
        string[] allowed = ["host", "adminPass", .. version.AtLeast(14) ? Array.Empty<string>() : ["onSharedStorage"],
            .. version.AtLeast(29) && !version.AtLeast(68) ? ["force"] : Array.Empty<string>()];
        if (argument.Select(p => p.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Additional properties are not allowed ('{unknown}' was unexpected)");
        }

        if (!version.AtLeast(14))
        {
            _ = Json.OptionalBoolean(argument, "onSharedStorage") switch
            {
                null => throw ApiException.BadRequest("'onSharedStorage' is a required property"),
                true => throw ApiException.BadRequest("Ember keeps instance disks on each host: there is no shared storage to evacuate on."),
                false => false,
            };
        }

        var host = Limits.Text(Json.OptionalString(argument, "host"), "host");
        var force = Json.OptionalBoolean(argument, "force") == true;
        if (force && host is null)
        {
            throw ApiException.BadRequest("'force' needs a 'host'.");
        }

        var adminPass = Json.OptionalString(argument, "adminPass");
        var password = adminPass ?? (version.AtLeast(14) ? null : NewAdminPass());
        await compute.EvacuateAsync(http.RequireProjectContext(), RequestId(http), server, host, force, password, stopAtDestination: version.AtLeast(95));
        return version.AtLeast(14) ? Results.Ok() : Json.Reply(new JsonObject { ["adminPass"] = password });
    }

    /// <summary>Nova's metadata key pattern for createImage (parameter_types.metadata): 1 to 255 of these characters.</summary>
    [System.Text.RegularExpressions.GeneratedRegex("^[a-zA-Z0-9-_:. ]{1,255}$")]
    private static partial System.Text.RegularExpressions.Regex ImageMetadataKey();

    /// <summary>
    /// {"createImage":{"name":..., "metadata":{...}}}: 202, the image's URL in Location before 2.45, {"image_id"} from 2.45.
    /// </summary>
    private static async Task<IResult> CreateImageAsync(HttpContext http, ComputeStore store, ComputeService compute, RequestContext context,
        ServerRow server, JsonNode? argument)
    {
        http.Enforce(context, "os_compute_api:servers:create_image");
        var (_, name, metadata) = await SnapshotRequestAsync(http, server, argument, "createImage");
        var bdms = await store.ListBdmsAsync(server.Id);
        if (server.ImageId is null || bdms.Any(b => b.BootIndex == 0))
        {
            http.Enforce(context, "os_compute_api:servers:create_image:allow_volume_backed");
        }

        return SnapshotReply(http, await compute.CreateImageAsync(context, RequestId(http), server, name, metadata));
    }

    /// <summary>
    /// {"createBackup":{"name":..., "backup_type":..., "rotation": n, "metadata":{...}}}: a createImage kept in a rotation
    /// of n backups of that type; answered as createImage.
    /// </summary>
    private static async Task<IResult> CreateBackupAsync(HttpContext http, ComputeService compute, RequestContext context, ServerRow server, JsonNode? argument)
    {
        http.Enforce(context, "os_compute_api:os-create-backup");
        var (body, name, metadata) = await SnapshotRequestAsync(http, server, argument, "createBackup", "backup_type", "rotation");
        var backupType = Json.OptionalString(body, "backup_type") ?? throw ApiException.BadRequest("Invalid input for field/attribute createBackup. 'backup_type' is a required property");
        if (backupType.Length > 255)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute backup_type. It must be at most 255 characters.");
        }

        var rotation = body["rotation"] switch
        {
            null => throw ApiException.BadRequest("Invalid input for field/attribute createBackup. 'rotation' is a required property"),
            JsonValue v when v.TryGetValue<int>(out var n) && n >= 0 => n,
            JsonValue v when v.TryGetValue<string>(out var text) && int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) => n,
            var other => throw ApiException.BadRequest($"Invalid input for field/attribute rotation. Value: {other.ToJsonString()}. It must be an integer of at least 0."),
        };
        return SnapshotReply(http, await compute.CreateBackupAsync(context, RequestId(http), server, name, backupType, rotation, metadata));
    }

    private static IResult SnapshotReply(HttpContext http, string imageId)
    {
        if (ComputeVersion.Of(http).AtLeast(45))
        {
            return Json.Reply(new JsonObject { ["image_id"] = imageId }, StatusCodes.Status202Accepted);
        }

        http.Response.Headers.Location = $"{http.BaseUrl()}/image/v2/images/{imageId}";
        return Results.Accepted();
    }

    /// <summary>
    /// The body of createImage and createBackup: the name is 1 to 255 characters (from 2.1 without surrounding spaces, as
    /// Nova's schema); metadata keys follow Nova's pattern, values are at most 255 characters and their number is bounded
    /// by the project's metadata_items quota.
    /// </summary>
    private static async Task<(JsonObject Body, string Name, Dictionary<string, string> Metadata)> SnapshotRequestAsync(HttpContext http, ServerRow server,
        JsonNode? argument, string action, params string[] otherKeys)
    {
        if (argument is not JsonObject body)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute {action}. It must be an object.");
        }

        if (body.Select(p => p.Key).FirstOrDefault(k => k is not ("name" or "metadata") && !otherKeys.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute {action}. Additional properties are not allowed ('{unknown}' was unexpected)");
        }

        var name = Json.OptionalString(body, "name") ?? throw ApiException.BadRequest($"Invalid input for field/attribute {action}. 'name' is a required property");
        if (name.Length is 0 or > 255 || name.Trim() != name)
        {
            throw ApiException.BadRequest(
                $"Invalid input for field/attribute name. Value: {name}. It must be 1 to 255 characters without leading or trailing whitespace.");
        }

        var metadata = Json.OptionalStringMap(body, "metadata") ?? [];
        foreach (var (key, value) in metadata)
        {
            if (!ImageMetadataKey().IsMatch(key) || value.Length > 255)
            {
                throw ApiException.BadRequest(
                    "Invalid input for field/attribute metadata. Keys must be 1 to 255 letters, digits or '-_:. ' and values at most 255 characters.");
            }
        }

        // Nova's check_img_metadata_properties_quota.
        var quotas = http.RequestServices.GetRequiredService<ComputeQuotas>();
        if (metadata.Count > 0 && await quotas.LimitOfAsync(server.ProjectId, "metadata_items") is var limit and >= 0 && metadata.Count > limit)
        {
            throw ApiException.Forbidden("Image metadata limit exceeded");
        }

        return (body, name, metadata);
    }

    /// <summary>
    /// lock's body: null, or from 2.73 {"locked_reason": "..."} of at most 255 characters (Nova's schema refuses
    /// anything else in it).
    /// </summary>
    private static string? LockReason(JsonNode? argument, Microversion version)
    {
        if (argument is not JsonObject body || !version.AtLeast(73))
        {
            return null;
        }

        if (body.Select(p => p.Key).FirstOrDefault(k => k != "locked_reason") is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute lock. Additional properties are not allowed ('{unknown}' was unexpected)");
        }

        var reason = Json.OptionalString(body, "locked_reason");
        return reason is null || reason.Length <= 255
            ? reason
            : throw ApiException.BadRequest("Invalid input for field/attribute locked_reason. It must be at most 255 characters.");
    }

    /// <summary>A password Nova would generate for a server the user gave none (12 characters, as its default length).</summary>
    private static string NewAdminPass() => Ids.NewSecret(9)[..12];

    /// <summary>Ember extension: {"ember-exec":{"command":["mkfs.ext3","/dev/vdb"],"timeout":60,"stdin":"..."}}.</summary>
    private static async Task<IResult> ExecAsync(HttpContext http, ComputeService compute, ServerRow server, JsonObject? argument)
    {
        if (argument?["command"] is not JsonArray { Count: > 0 } commandArray
            || commandArray.Any(c => c is not JsonValue v || !v.TryGetValue(out string? _)))
        {
            throw ApiException.BadRequest("'command' must be a non-empty list of strings.");
        }

        var timeout = Json.OptionalInteger(argument, "timeout") ?? 60;
        if (timeout is < 1 or > 3600)
        {
            throw ApiException.BadRequest("'timeout' must be between 1 and 3600 seconds.");
        }

        var command = commandArray.Select(c => c!.GetValue<string>()).ToList();
        var result = await compute.ExecAsync(RequestId(http), server, command, Json.OptionalString(argument, "stdin"), (int)timeout, http.RequestAborted);
        if (result.TimedOut)
        {
            throw new ApiException(ErrorKind.Conflict, $"The command did not finish within {timeout} seconds; it is still running in the guest.");
        }

        return Json.Reply(new JsonObject { ["exit_code"] = result.ExitCode, ["stdout"] = result.StdOut, ["stderr"] = result.StdErr });
    }
}
