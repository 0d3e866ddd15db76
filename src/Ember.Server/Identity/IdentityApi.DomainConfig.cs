using System.Text.Json.Nodes;
using Ember.Server.Common;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ember.Server.Identity;

// Domain-specific configuration (/v3/domains/{id}/config[/{group}[/{option}]], /v3/domains/config[/{group}[/{option}]]/default):
// the identity and ldap options Keystone lets a domain set, stored and shown; Ember keeps every domain on its SQL identity.
public static partial class IdentityApi
{
    /// <summary>Longest option value kept, as JSON text.</summary>
    private const int MaxDomainConfigValueLength = 4096;

    private static void MapDomainConfig(RouteGroupBuilder v3)
    {
        v3.MapGet("/domains/config/default", (HttpContext http) =>
        {
            Authorize(http, "identity:get_domain_config_default");
            var config = new JsonObject();
            foreach (var (group, options) in DomainConfigStore.Defaults)
            {
                config[group] = DefaultsOf(options);
            }

            return Json.Reply(new JsonObject { ["config"] = config });
        });
        v3.MapGet("/domains/config/{group}/default", (HttpContext http, string group) =>
        {
            Authorize(http, "identity:get_domain_config_default");
            var options = DomainConfigStore.Defaults.GetValueOrDefault(group) ?? throw DomainConfigStore.Invalid($"group {group} is not supported");
            return Json.Reply(new JsonObject { ["config"] = new JsonObject { [group] = DefaultsOf(options) } });
        });
        v3.MapGet("/domains/config/{group}/{option}/default", (HttpContext http, string group, string option) =>
        {
            Authorize(http, "identity:get_domain_config_default");
            var value = DomainConfigStore.Defaults.GetValueOrDefault(group)?.GetValueOrDefault(option)
                ?? throw DomainConfigStore.Invalid($"option {option} in group {group} is not supported");
            return Json.Reply(new JsonObject { ["config"] = new JsonObject { [option] = JsonNode.Parse(value) } });
        });

        v3.MapPut("/domains/{id}/config", async (HttpContext http, IdentityService identity, DomainConfigStore configs, string id) =>
        {
            Authorize(http, "identity:create_domain_config");
            _ = await identity.GetDomainAsync(id);
            var rows = ConfigRows(id, await ReadConfigAsync(http), null);
            var existed = (await configs.ListAsync(id)).Count > 0;
            await configs.WriteAsync(id, rows, replace: true);
            return Json.Reply(new JsonObject { ["config"] = DomainConfigStore.Shown(rows) }, existed ? StatusCodes.Status200OK : StatusCodes.Status201Created);
        });
        v3.MapGet("/domains/{id}/config", async (HttpContext http, IdentityService identity, DomainConfigStore configs, string id) =>
        {
            Authorize(http, "identity:get_domain_config");
            return Json.Reply(new JsonObject { ["config"] = DomainConfigStore.Shown(await ConfigOfAsync(identity, configs, id, null, null)) });
        });
        v3.MapGet("/domains/{id}/config/{group}", async (HttpContext http, IdentityService identity, DomainConfigStore configs, string id, string group) =>
        {
            Authorize(http, "identity:get_domain_config");
            return Json.Reply(new JsonObject { ["config"] = DomainConfigStore.Shown(await ConfigOfAsync(identity, configs, id, group, null)) });
        });
        v3.MapGet("/domains/{id}/config/{group}/{option}", async (HttpContext http, IdentityService identity, DomainConfigStore configs, string id, string group,
            string option) =>
        {
            Authorize(http, "identity:get_domain_config");
            var row = (await ConfigOfAsync(identity, configs, id, group, option)).Single();
            return Json.Reply(new JsonObject { ["config"] = new JsonObject { [option] = JsonNode.Parse(row.Value) } });
        });

        // PATCH merges into what the domain has; the group (or option) patched must be there already (404), as in Keystone.
        v3.MapMethods("/domains/{id}/config", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, DomainConfigStore configs, string id) =>
        {
            Authorize(http, "identity:update_domain_config");
            _ = await ConfigOfAsync(identity, configs, id, null, null);
            return await UpdateConfigAsync(configs, id, ConfigRows(id, await ReadConfigAsync(http), null));
        });
        v3.MapMethods("/domains/{id}/config/{group}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, DomainConfigStore configs,
            string id, string group) =>
        {
            Authorize(http, "identity:update_domain_config");
            _ = await ConfigOfAsync(identity, configs, id, group, null);
            return await UpdateConfigAsync(configs, id, ConfigRows(id, await ReadConfigAsync(http), group));
        });
        v3.MapMethods("/domains/{id}/config/{group}/{option}", [HttpMethods.Patch], async (HttpContext http, IdentityService identity, DomainConfigStore configs,
            string id, string group, string option) =>
        {
            Authorize(http, "identity:update_domain_config");
            _ = await ConfigOfAsync(identity, configs, id, group, option);
            var body = await ReadConfigAsync(http);
            if (body.Count != 1 || !body.ContainsKey(option))
            {
                throw DomainConfigStore.Invalid($"the body must set option {option} only");
            }

            return await UpdateConfigAsync(configs, id, ConfigRows(id, new JsonObject { [group] = body.DeepClone() }, group));
        });

        v3.MapDelete("/domains/{id}/config", (HttpContext http, IdentityService identity, DomainConfigStore configs, string id) =>
            DeleteConfigAsync(http, identity, configs, id, null, null));
        v3.MapDelete("/domains/{id}/config/{group}", (HttpContext http, IdentityService identity, DomainConfigStore configs, string id, string group) =>
            DeleteConfigAsync(http, identity, configs, id, group, null));
        v3.MapDelete("/domains/{id}/config/{group}/{option}", (HttpContext http, IdentityService identity, DomainConfigStore configs, string id, string group,
            string option) => DeleteConfigAsync(http, identity, configs, id, group, option));
    }

    private static JsonObject DefaultsOf(IReadOnlyDictionary<string, string> options)
    {
        var group = new JsonObject();
        foreach (var (option, value) in options)
        {
            group[option] = JsonNode.Parse(value);
        }

        return group;
    }

    private static async Task<JsonObject> ReadConfigAsync(HttpContext http) =>
        Json.RequiredObject(await Json.ReadObjectAsync(http.Request, http.RequestAborted), "config");

    /// <summary>{"group": {"option": value}} as rows; every group and option one Keystone knows (else its 403), at most <paramref name="onlyGroup"/>.</summary>
    private static List<DomainConfigRow> ConfigRows(string domainId, JsonObject config, string? onlyGroup)
    {
        if (config.Count == 0)
        {
            throw DomainConfigStore.Invalid("the configuration is empty");
        }

        var rows = new List<DomainConfigRow>();
        foreach (var (group, options) in config)
        {
            if (onlyGroup is not null && group != onlyGroup)
            {
                throw DomainConfigStore.Invalid($"the body must set group {onlyGroup} only");
            }

            if (options is not JsonObject { Count: > 0 } optionMap)
            {
                throw DomainConfigStore.Invalid($"group {group} must be a non-empty object of options");
            }

            foreach (var (option, value) in optionMap)
            {
                var json = value?.ToJsonString() ?? "null";
                if (!DomainConfigStore.IsKnown(group, option) || json.Length > MaxDomainConfigValueLength)
                {
                    throw DomainConfigStore.Invalid($"option {option} in group {group} is not supported");
                }

                rows.Add(new DomainConfigRow(domainId, group, option, json));
            }
        }

        return rows;
    }

    /// <summary>The domain's options, of one group or one option; 404 when the domain, its configuration, the group or the option is missing.</summary>
    private static async Task<IReadOnlyList<DomainConfigRow>> ConfigOfAsync(IdentityService identity, DomainConfigStore configs, string id, string? group,
        string? option)
    {
        _ = await identity.GetDomainAsync(id);
        if (group is not null && !DomainConfigStore.Defaults.ContainsKey(group))
        {
            throw DomainConfigStore.Invalid($"group {group} is not supported");
        }

        var rows = (await configs.ListAsync(id)).Where(r => (group is null || r.GroupName == group) && (option is null || r.OptionName == option)
            && (option is not null || !DomainConfigStore.IsSensitive(r.GroupName, r.OptionName))).ToList();
        return rows.Count > 0
            ? rows
            : throw ApiException.NotFound(option is not null ? $"Could not find config option {option} in group {group} of domain {id}."
                : group is not null ? $"Could not find config group {group} of domain {id}." : $"Could not find domain config for domain {id}.");
    }

    private static async Task<IResult> UpdateConfigAsync(DomainConfigStore configs, string id, List<DomainConfigRow> rows)
    {
        await configs.WriteAsync(id, rows, replace: false);
        return Json.Reply(new JsonObject { ["config"] = DomainConfigStore.Shown(await configs.ListAsync(id)) });
    }

    private static async Task<IResult> DeleteConfigAsync(HttpContext http, IdentityService identity, DomainConfigStore configs, string id, string? group,
        string? option)
    {
        Authorize(http, "identity:delete_domain_config");
        _ = await ConfigOfAsync(identity, configs, id, group, option);
        await configs.DeleteAsync(id, group, option);
        return Results.NoContent();
    }
}
