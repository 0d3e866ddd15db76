using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    /// <summary>
    /// {"resize":{"flavorRef":..., "OS-DCF:diskConfig"}}: 202. The flavor must exist for the project (else 400 as Nova's
    /// FlavorNotFound) and the project's cores and ram quotas must hold the growth (403 as Nova's).
    /// </summary>
    private static async Task<IResult> ResizeAsync(HttpContext http, ComputeStore store, ComputeService compute, RequestContext context,
        ServerRow server, JsonNode? argument)
    {
        http.Enforce(context, "os_compute_api:servers:resize");
        if (argument is not JsonObject body)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute resize. It must be an object.");
        }

        if (body.Select(p => p.Key).FirstOrDefault(k => k is not ("flavorRef" or "OS-DCF:diskConfig")) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute resize. Additional properties are not allowed ('{unknown}' was unexpected)");
        }

        var flavorRef = Json.OptionalString(body, "flavorRef") is { Length: > 0 and <= Limits.MaxLength } given
            ? FlavorIdFromRef(given)
            : throw ApiException.BadRequest("Invalid input for field/attribute resize. 'flavorRef' is a required property");
        var flavor = await store.FindFlavorAsync(flavorRef) is { } found && await store.CanUseFlavorAsync(found, context)
            ? found
            : throw ApiException.BadRequest($"Flavor {flavorRef} could not be found.");

        // Nova counts the growth only (a smaller flavor frees, it never needs room).
        var current = JsonSerializer.Deserialize<FlavorRow>(server.FlavorJson)!;
        var quotas = http.RequestServices.GetRequiredService<ComputeQuotas>();
        var limits = await quotas.LimitsOfAsync(server.ProjectId);
        var growth = new[] { ("cores", flavor.Vcpus - current.Vcpus), ("ram", flavor.Ram - current.Ram) }.Where(g => g.Item2 > 0 && limits[g.Item1] >= 0).ToList();
        if (growth.Count > 0)
        {
            var usage = await quotas.UsageOfAsync(server.ProjectId, server.UserId);
            foreach (var (resource, more) in growth)
            {
                if (usage[resource] + more > limits[resource])
                {
                    throw ApiException.Forbidden(
                        $"Quota exceeded for {resource}: Requested {more}, but already used {usage[resource]} of {limits[resource]} {resource}");
                }
            }
        }

        await compute.ResizeAsync(context, RequestId(http), server, flavor);
        return Results.Accepted();
    }
}
