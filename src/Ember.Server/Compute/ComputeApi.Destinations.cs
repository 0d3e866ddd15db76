using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Compute;

// The fields of a server create that name where it goes (2.74) or what it calls itself (2.90), and the fields that
// Nova's schemas refuse below the microversion that adds them.
public static partial class ComputeApi
{
    /// <summary>2.74: host and hypervisor_hostname in POST /servers.</summary>
    private const int RequestedDestinationVersion = 74;

    /// <summary>2.90: hostname in create, update and rebuild, and OS-EXT-SRV-ATTR:hostname shown to everyone.</summary>
    private const int HostnameVersion = 90;

    /// <summary>Nova's fqdn parameter type (host and hypervisor_hostname): 1 to 255 of letters, digits and "-._".</summary>
    [System.Text.RegularExpressions.GeneratedRegex("^[a-zA-Z0-9-._]{1,255}$")]
    private static partial System.Text.RegularExpressions.Regex Fqdn();

    /// <summary>
    /// Nova's create schema has no additional properties: a field of a later microversion is a 400 below it (Ember
    /// ignores other unknown fields, as it always has).
    /// </summary>
    private static void RefuseLaterFields(JsonObject body, Microversion version, string what, params (string Key, int Since)[] fields)
    {
        if (fields.FirstOrDefault(f => body.ContainsKey(f.Key) && !version.AtLeast(f.Since)) is { Key: { } key })
        {
            throw ApiException.BadRequest($"Invalid input for field/attribute {what}. Additional properties are not allowed ('{key}' was unexpected)");
        }
    }

    /// <summary>
    /// 2.74's host and/or hypervisor_hostname (Nova's requested destination, admin only by default): the named compute
    /// node must exist, and the legacy zone:host:node form may not be used with them.
    /// </summary>
    private static async Task<ZoneRequest> RequestedDestinationAsync(HttpContext http, RequestContext context, JsonObject body, ZoneRequest zone)
    {
        var host = FqdnField(body, "host");
        var node = FqdnField(body, "hypervisor_hostname");
        if (host is null && node is null)
        {
            return zone;
        }

        http.Enforce(context, "compute:servers:create:requested_destination");
        if (zone.IsForced)
        {
            throw ApiException.BadRequest("One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.");
        }

        var nodes = await http.RequestServices.GetRequiredService<ComputeServiceStore>().ListAsync(host, ComputeServiceStore.ComputeBinary);
        if (!nodes.Any(n => node is null || n.HypervisorHostname == node))
        {
            throw ApiException.BadRequest($"Compute host {host ?? node} could not be found.");
        }

        return zone with { RequestedHost = host, RequestedNode = node };
    }

    /// <summary>Nova's hostname parameter type (2.90): a DNS label of 2 to 63 letters, digits and inner '-'.</summary>
    [System.Text.RegularExpressions.GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]$")]
    private static partial System.Text.RegularExpressions.Regex HostnameLabel();

    /// <summary>2.94: the hostname may be a fully qualified domain name (Nova's fqdn type, as host's).</summary>
    private const int FqdnHostnameVersion = 94;

    /// <summary>
    /// The hostname of a create, update or rebuild body: null when not given (or below 2.90), else a valid label, or
    /// from 2.94 a valid FQDN (which the metadata service gives the guest whole).
    /// </summary>
    private static string? HostnameField(JsonObject body, Microversion version)
    {
        if (!version.AtLeast(HostnameVersion) || !body.ContainsKey("hostname"))
        {
            return null;
        }

        var value = Json.OptionalString(body, "hostname");
        if (version.AtLeast(FqdnHostnameVersion))
        {
            return value is not null && Fqdn().IsMatch(value)
                ? value
                : throw ApiException.BadRequest($"Invalid input for field/attribute hostname. Value: {value}. It must be 1 to 255 letters, digits or '-._'.");
        }

        return value is not null && HostnameLabel().IsMatch(value)
            ? value
            : throw ApiException.BadRequest(
                $"Invalid input for field/attribute hostname. Value: {value}. It must be 2 to 63 letters, digits or '-', starting and ending with a letter or digit.");
    }

    private static string? FqdnField(JsonObject body, string key)
    {
        var value = Json.OptionalString(body, key);
        return value is null || Fqdn().IsMatch(value)
            ? value
            : throw ApiException.BadRequest($"Invalid input for field/attribute {key}. Value: {value}. It must be 1 to 255 letters, digits or '-._'.");
    }
}
