using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Ember.OpenStack;

/// <summary>A Keystone v3 token with what clients need from its body: expiry, catalog, user and project.</summary>
public sealed record KeystoneToken(string Id, DateTimeOffset ExpiresAt, JsonArray Catalog, string? UserId, string? ProjectId, JsonObject Body)
{
    /// <summary>Reads the "token" object of a POST /v3/auth/tokens reply; a token without expires_at is taken to last five minutes.</summary>
    public static KeystoneToken FromBody(string id, JsonObject token, DateTimeOffset now) => new(
        id,
        token["expires_at"]?.GetValue<string>() is { } expires ? DateTimeOffset.Parse(expires, CultureInfo.InvariantCulture) : now.AddMinutes(5),
        token["catalog"] as JsonArray ?? [],
        (string?)token["user"]?["id"],
        (string?)token["project"]?["id"],
        token);

    /// <summary>
    /// The URL (no trailing slash) of the first endpoint of <paramref name="serviceType"/> or one of its aliases with
    /// that interface and, when given, that region; null when the catalog has none.
    /// </summary>
    public string? FindEndpoint(string serviceType, string @interface, string? region)
    {
        foreach (var type in ServiceTypes.Aliases(serviceType))
        {
            var url = Catalog.OfType<JsonObject>()
                .Where(s => (string?)s["type"] == type)
                .SelectMany(s => (s["endpoints"] as JsonArray)?.OfType<JsonObject>() ?? [])
                .FirstOrDefault(e => ((string?)e["interface"] ?? "public") == @interface
                    && (region is null || (string?)e["region_id"] == region || (string?)e["region"] == region))?["url"]?.GetValue<string>();
            if (url is not null)
            {
                return url.TrimEnd('/');
            }
        }

        return null;
    }

    /// <summary>The token id is a bearer credential: left out, with the body, so a printed record shows neither.</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"ExpiresAt = {ExpiresAt:O}, UserId = {UserId}, ProjectId = {ProjectId}, Catalog = {Catalog.Count} services");
        return true;
    }
}

/// <summary>Where a client keeps its token between runs (the CLI's cache file); a compute host keeps it in memory only.</summary>
public interface ITokenStore
{
    /// <summary>A stored token for these credentials that is still valid at <paramref name="validUntil"/>, or null.</summary>
    KeystoneToken? Load(DateTimeOffset validUntil);

    void Save(KeystoneToken token);
}
