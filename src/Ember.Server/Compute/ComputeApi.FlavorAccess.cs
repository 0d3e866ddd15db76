using System.Text.Json.Nodes;
using Ember.Server.Common;
using Ember.Server.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Compute;

// os-flavor-access (nova/api/openstack/compute/flavor_access.py): the access list of a private flavor, admin only.
public static partial class ComputeApi
{
    /// <summary>From 2.7 Nova refuses to give a project access to a public flavor (409); before, it was a no-op.</summary>
    private const int PublicFlavorAccessConflict = 7;

    private static void MapFlavorAccess(RouteGroupBuilder v21)
    {
        v21.MapGet("/flavors/{id}/os-flavor-access", async (HttpContext http, ComputeStore store, string id) =>
        {
            Authorize(http, "os_compute_api:os-flavor-access");
            var flavor = await FindFlavorAsync(store, id);
            return flavor.IsPublic
                ? throw ApiException.NotFound("Access list not available for public flavors.")
                : Json.Reply(await FlavorAccessAsync(store, flavor.Id));
        });
        v21.MapPost("/flavors/{id}/action", FlavorActionAsync);
    }

    private static async Task<IResult> FlavorActionAsync(HttpContext http, ComputeStore store, IdentityStore identity, string id)
    {
        var body = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var (action, args) = body.Count == 1 ? body.First() : default;
        var add = action == "addTenantAccess";
        if (!add && action != "removeTenantAccess")
        {
            throw ApiException.BadRequest("There is no such action: " + string.Join(",", body.Select(kv => kv.Key)));
        }

        Authorize(http, add ? "os_compute_api:os-flavor-access:add_tenant_access" : "os_compute_api:os-flavor-access:remove_tenant_access");
        var tenant = TenantOf(args as JsonObject, action!);
        var flavor = await FindFlavorAsync(store, id);
        if (add)
        {
            // Removing is allowed for a project that no longer exists; adding is not (Nova's verify_project_id).
            if (await identity.FindProjectAsync(tenant, null, null) is null)
            {
                throw ApiException.BadRequest($"Project ID {tenant} is not a valid project.");
            }

            if (flavor.IsPublic && ComputeVersion.Of(http).AtLeast(PublicFlavorAccessConflict))
            {
                throw ApiException.Conflict("Can not add access to a public flavor.");
            }

            if (!await store.AddFlavorAccessAsync(flavor.Id, tenant))
            {
                throw ApiException.Conflict($"Flavor access already exists for flavor {flavor.Id} and project {tenant} combination.");
            }
        }
        else if (!await store.RemoveFlavorAccessAsync(flavor.Id, tenant))
        {
            throw ApiException.NotFound($"Flavor access not found for {flavor.Id} / {tenant} combination.");
        }

        return Json.Reply(await FlavorAccessAsync(store, flavor.Id));
    }

    /// <summary>The body schema of both actions: {"tenant": "a non-empty string"} and nothing else.</summary>
    private static string TenantOf(JsonObject? args, string action)
    {
        if (args is null)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute {action}. Value: None. None is not of type 'object'");
        }

        if (args.FirstOrDefault(kv => kv.Key != "tenant") is { Key: { } extra })
        {
            throw ApiException.BadRequest($"Additional properties are not allowed ('{extra}' was unexpected)");
        }

        var tenant = Json.OptionalString(args, "tenant") ?? throw ApiException.BadRequest("'tenant' is a required property");
        return tenant.Length is >= 1 and <= 255
            ? tenant
            : throw ApiException.BadRequest($"Invalid input for field/attribute tenant. Value: {tenant}. It must be a string of 1 to 255 characters.");
    }

    private static async Task<JsonObject> FlavorAccessAsync(ComputeStore store, string flavorId)
    {
        var list = new JsonArray();
        foreach (var project in await store.ListFlavorProjectsAsync(flavorId))
        {
            list.Add(new JsonObject { ["flavor_id"] = flavorId, ["tenant_id"] = project });
        }

        return new JsonObject { ["flavor_access"] = list };
    }
}
