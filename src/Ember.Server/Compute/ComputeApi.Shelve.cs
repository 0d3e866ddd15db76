using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    /// <summary>
    /// {"unshelve": null}; from 2.77 {"unshelve": {"availability_zone": ...}}, from 2.91 also "host" (admin) and a null
    /// availability_zone (unpin). 202.
    /// </summary>
    private static async Task<IResult> UnshelveAsync(HttpContext http, ComputeService compute, RequestContext context, ServerRow server, JsonNode? argument)
    {
        http.Enforce(context, "os_compute_api:os-shelve:unshelve");
        var version = ComputeVersion.Of(http);
        string? zone = null;
        string? host = null;
        var unpinZone = false;
        if (argument is JsonObject body)
        {
            string[] allowed = [.. version.AtLeast(77) ? ["availability_zone"] : Array.Empty<string>(), .. version.AtLeast(91) ? ["host"] : Array.Empty<string>()];
            if (body.Select(p => p.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } unknown)
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute unshelve. Additional properties are not allowed ('{unknown}' was unexpected)");
            }

            // 2.91 lets the zone be null: unpin the server from any zone (below, Nova's schema wants a string).
            if (body.ContainsKey("availability_zone") && body["availability_zone"] is null)
            {
                unpinZone = version.AtLeast(91)
                    ? true
                    : throw ApiException.BadRequest("Invalid input for field/attribute availability_zone. Value: None. None is not of type 'string'");
            }

            zone = Limits.Text(Json.OptionalString(body, "availability_zone"), "availability_zone");
            host = Limits.Text(Json.OptionalString(body, "host"), "host");
            if (host is not null)
            {
                http.Enforce(context, "os_compute_api:os-shelve:unshelve_to_host");
            }
        }
        else if (argument is not null)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute unshelve. It must be null or an object.");
        }

        await compute.UnshelveAsync(context, RequestId(http), server, zone, host, unpinZone);
        return Results.Accepted();
    }

    /// <summary>
    /// {"rescue": null} or {"rescue": {"adminPass": ..., "rescue_image_ref": ...}}: 200 with the rescue guest's adminPass
    /// (given, or a new one).
    /// </summary>
    private static async Task<IResult> RescueAsync(HttpContext http, ComputeService compute, RequestContext context, ServerRow server, JsonNode? argument)
    {
        http.Enforce(context, "os_compute_api:os-rescue");
        string? adminPass = null;
        string? imageRef = null;
        if (argument is JsonObject body)
        {
            if (body.Select(p => p.Key).FirstOrDefault(k => k is not ("adminPass" or "rescue_image_ref")) is { } unknown)
            {
                throw ApiException.BadRequest($"Invalid input for field/attribute rescue. Additional properties are not allowed ('{unknown}' was unexpected)");
            }

            adminPass = Limits.Text(Json.OptionalString(body, "adminPass"), "adminPass");
            imageRef = Json.OptionalString(body, "rescue_image_ref") is { } given ? Limits.Text(FlavorIdFromRef(given), "rescue_image_ref") : null;
        }
        else if (argument is not null)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute rescue. It must be null or an object.");
        }

        var password = adminPass ?? NewAdminPass();
        await compute.RescueAsync(context, RequestId(http), server, imageRef, password, volumeBackedAllowed: ComputeVersion.Of(http).AtLeast(87));
        return Json.Reply(new JsonObject { ["adminPass"] = password });
    }
}
