using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Volume;

// Volume type encryption (cinder/api/contrib/volume_type_encryption.py, its schema in cinder/api/schemas): admin only.
// The {key} of update and delete names nothing (clients send "provider"); show reads one field by its name.
public static partial class VolumeApi
{
    private static readonly string[] s_encryptionFields = ["provider", "control_location", "cipher", "key_size"];

    private static void MapEncryption(RouteGroupBuilder v3)
    {
        v3.MapGet("/types/{id}/encryption", (Delegate)(ShowEncryptionAsync));
        v3.MapPost("/types/{id}/encryption", (Delegate)(CreateEncryptionAsync));
        v3.MapGet("/types/{id}/encryption/{key}", (Delegate)(ShowEncryptionFieldAsync));
        v3.MapPut("/types/{id}/encryption/{key}", (Delegate)(UpdateEncryptionAsync));
        v3.MapDelete("/types/{id}/encryption/{key}", (Delegate)(DeleteEncryptionAsync));
    }

    /// <summary>Cinder's encryption row as its index shows it; a type without a spec shows {}.</summary>
    private static JsonObject EncryptionBody(EncryptionRow? e) => e is null ? new JsonObject() : new JsonObject
    {
        ["volume_type_id"] = e.VolumeTypeId,
        ["encryption_id"] = e.EncryptionId,
        ["key_size"] = e.KeySize,
        ["provider"] = e.Provider,
        ["control_location"] = e.ControlLocation,
        ["cipher"] = e.Cipher,
        ["deleted"] = false,
        ["created_at"] = Ids.CinderTime(e.CreatedAt),
        ["updated_at"] = e.UpdatedAt is { } updated ? Ids.CinderTime(updated) : null,
        ["deleted_at"] = null,
    };

    private static async Task<IResult> ShowEncryptionAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:volume_type_encryption:get");
        return Json.Reply(EncryptionBody(await Service(http).EncryptionOfAsync(ctx, id)));
    }

    private static async Task<IResult> ShowEncryptionFieldAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:volume_type_encryption:get");
        var body = EncryptionBody(await Service(http).EncryptionOfAsync(ctx, id));
        return body.TryGetPropertyValue(key, out var value)
            ? Json.Reply(new JsonObject { [key] = value?.DeepClone() })
            : throw VolumeService.EncryptionNotFound(id);
    }

    /// <summary>Answers what was given with the type's id and the new spec's id, as Cinder's create does.</summary>
    private static async Task<IResult> CreateEncryptionAsync(HttpContext http, string id)
    {
        var ctx = Authorize(http, "volume_extension:volume_type_encryption:create");
        var body = EncryptionFieldsOf(await Json.ReadObjectAsync(http.Request, http.RequestAborted));
        var provider = body.Provider.IsGiven ? body.Provider.Value : throw ApiException.BadRequest("Invalid input for field/attribute encryption: 'provider' is a required property.");
        var location = body.ControlLocation.IsGiven ? body.ControlLocation.Value : throw ApiException.BadRequest("Invalid input for field/attribute encryption: 'control_location' is a required property.");
        var created = await Service(http).CreateEncryptionAsync(ctx, id, provider, location, body.Cipher.Or(null), body.KeySize.Or(null));
        var reply = new JsonObject { ["provider"] = provider, ["control_location"] = location };
        if (body.Cipher.IsGiven)
        {
            reply["cipher"] = body.Cipher.Value;
        }

        if (body.KeySize.IsGiven)
        {
            reply["key_size"] = body.KeySize.Value;
        }

        reply["volume_type_id"] = created.VolumeTypeId;
        reply["encryption_id"] = created.EncryptionId;
        return Json.Reply(new JsonObject { ["encryption"] = reply });
    }

    /// <summary>Answers the fields given, as Cinder's update does.</summary>
    private static async Task<IResult> UpdateEncryptionAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:volume_type_encryption:update");
        var request = await Json.ReadObjectAsync(http.Request, http.RequestAborted);
        var body = EncryptionFieldsOf(request);
        await Service(http).UpdateEncryptionAsync(ctx, id, body.Provider, body.ControlLocation, body.Cipher, body.KeySize);
        var reply = new JsonObject();
        foreach (var field in s_encryptionFields.Where(f => ((JsonObject)request["encryption"]!).ContainsKey(f)))
        {
            reply[field] = field switch
            {
                "provider" => (JsonNode?)body.Provider.Value,
                "control_location" => body.ControlLocation.Value,
                "cipher" => body.Cipher.Value,
                _ => body.KeySize.Value,
            };
        }

        return Json.Reply(new JsonObject { ["encryption"] = reply });
    }

    private static async Task<IResult> DeleteEncryptionAsync(HttpContext http, string id, string key)
    {
        var ctx = Authorize(http, "volume_extension:volume_type_encryption:delete");
        await Service(http).DeleteEncryptionAsync(ctx, id);
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private sealed record EncryptionFields(Optional<string> Provider, Optional<string> ControlLocation, Optional<string?> Cipher, Optional<int?> KeySize);

    /// <summary>Cinder's schema: provider and cipher strings of at most 255, control_location front-end or back-end, key_size a non-negative integer; nothing else.</summary>
    private static EncryptionFields EncryptionFieldsOf(JsonObject request)
    {
        var body = Json.RequiredObject(request, "encryption");
        if (request.Count != 1 || body.Any(kv => !s_encryptionFields.Contains(kv.Key, StringComparer.Ordinal)))
        {
            throw ApiException.BadRequest("Invalid input for field/attribute encryption: Additional properties are not allowed.");
        }

        Optional<string> provider = default;
        if (body.ContainsKey("provider"))
        {
            provider = new(Json.OptionalString(body, "provider") is { Length: <= MaxQosText } given
                ? given
                : throw ApiException.BadRequest("Invalid input for field/attribute provider: a string of at most 255 characters."));
        }

        Optional<string> location = default;
        if (body.ContainsKey("control_location"))
        {
            location = new(Json.OptionalString(body, "control_location") is { } place && VolumeService.ControlLocations.Contains(place, StringComparer.Ordinal)
                ? place
                : throw ApiException.BadRequest("Invalid input for field/attribute control_location: Valid control location are: front-end, back-end"));
        }

        Optional<string?> cipher = default;
        if (body.ContainsKey("cipher"))
        {
            cipher = new(Json.OptionalString(body, "cipher") is { Length: > MaxQosText }
                ? throw ApiException.BadRequest("Invalid input for field/attribute cipher: a string of at most 255 characters.")
                : Json.OptionalString(body, "cipher"));
        }

        Optional<int?> keySize = default;
        if (body.ContainsKey("key_size"))
        {
            keySize = new(Json.OptionalInteger(body, "key_size") switch
            {
                null => (int?)null,
                >= 0 and <= int.MaxValue and var size => (int)size,
                _ => throw ApiException.BadRequest("Invalid input for field/attribute key_size: key_size must be non-negative."),
            });
        }

        return new EncryptionFields(provider, location, cipher, keySize);
    }
}
