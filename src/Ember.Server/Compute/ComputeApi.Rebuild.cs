using System.Text.Json;
using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    /// <summary>
    /// {"rebuild":{"imageRef":..., "name", "adminPass", "metadata", "accessIPv4", "accessIPv6", "preserve_ephemeral",
    /// "description" (2.19), "key_name" (2.54, null removes), "user_data" (2.57, null removes)}}: 202 with the server's
    /// update view and its new adminPass. Fields left out keep their values. Ember has no ephemeral disks, so
    /// preserve_ephemeral=true is refused. hostname (2.90) sets the hostname the guest's metadata gives.
    /// </summary>
    private static async Task<IResult> RebuildAsync(HttpContext http, ComputeStore store, ComputeService compute, RequestContext context,
        ServerRow server, JsonNode? argument)
    {
        http.Enforce(context, "os_compute_api:servers:rebuild");
        if (argument is not JsonObject body)
        {
            throw ApiException.BadRequest("Invalid input for field/attribute rebuild. It must be an object.");
        }

        var version = ComputeVersion.Of(http);
        string[] allowed =
        [
            "imageRef", "name", "adminPass", "metadata", "accessIPv4", "accessIPv6", "preserve_ephemeral", "OS-DCF:diskConfig",
            .. version.AtLeast(19) ? ["description"] : Array.Empty<string>(),
            .. version.AtLeast(54) ? ["key_name"] : Array.Empty<string>(),
            version.AtLeast(57) ? "user_data" : "personality",
            .. version.AtLeast(HostnameVersion) ? ["hostname"] : Array.Empty<string>(),
        ];
        if (body.Select(p => p.Key).FirstOrDefault(k => !allowed.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute rebuild. Additional properties are not allowed ('{unknown}' was unexpected)");
        }

        var imageRef = Json.OptionalString(body, "imageRef");
        if (string.IsNullOrEmpty(imageRef))
        {
            throw ApiException.BadRequest("Invalid input for field/attribute rebuild. 'imageRef' is a required property");
        }

        if (Json.OptionalBoolean(body, "preserve_ephemeral") == true)
        {
            // Nova's PreserveEphemeralNotSupported: the libvirt driver has ephemeral disks and still refuses; Ember has none.
            throw ApiException.BadRequest("The current driver does not support preserving ephemeral partitions.");
        }

        if (body["personality"] is JsonArray { Count: > 0 })
        {
            throw ApiException.BadRequest("Ember does not inject personality files; give user_data instead.");
        }

        var rebuilt = server with { ImageId = Limits.Text(FlavorIdFromRef(imageRef), "imageRef") };
        if (body.ContainsKey("name"))
        {
            rebuilt = rebuilt with { Name = ServerName(Json.OptionalString(body, "name")) };
        }

        if (body.ContainsKey("metadata"))
        {
            rebuilt = rebuilt with { Metadata = JsonSerializer.Serialize(Limits.NovaMetadata(Json.OptionalStringMap(body, "metadata") ?? [])) };
        }

        if (body.ContainsKey("accessIPv4"))
        {
            rebuilt = rebuilt with { AccessIpV4 = AccessIp(body, "accessIPv4", System.Net.Sockets.AddressFamily.InterNetwork) };
        }

        if (body.ContainsKey("accessIPv6"))
        {
            rebuilt = rebuilt with { AccessIpV6 = AccessIp(body, "accessIPv6", System.Net.Sockets.AddressFamily.InterNetworkV6) };
        }

        if (HostnameField(body, version) is { } hostname)
        {
            rebuilt = rebuilt with { Hostname = hostname };
        }

        if (body.ContainsKey("description"))
        {
            rebuilt = rebuilt with { Description = Limits.Text(Json.OptionalString(body, "description"), "description") };
        }

        if (body.ContainsKey("user_data"))
        {
            rebuilt = rebuilt with { UserData = UserData(Json.OptionalString(body, "user_data")) };
        }

        if (body.ContainsKey("key_name"))
        {
            // As at create, the key must be one of the caller's key pairs; null removes the server's key.
            var keyName = Limits.Text(Json.OptionalString(body, "key_name"), "key_name");
            var keypair = keyName is null ? null
                : await http.RequestServices.GetRequiredService<KeypairStore>().FindAsync(context.UserId, keyName)
                    ?? throw ApiException.BadRequest($"Keypair {keyName} not found for user {context.UserId}");
            rebuilt = rebuilt with { KeyName = keypair?.Name, KeyData = keypair?.PublicKey };
        }

        var adminPass = Json.OptionalString(body, "adminPass") ?? NewAdminPass();
        var row = await compute.RebuildAsync(context, RequestId(http), server, rebuilt, adminPass, reimageBootVolume: version.AtLeast(93));
        var view = await UpdatedViewAsync(http, store, context, row);
        view["adminPass"] = adminPass;
        return Json.Reply(new JsonObject { ["server"] = view }, StatusCodes.Status202Accepted);
    }
}
