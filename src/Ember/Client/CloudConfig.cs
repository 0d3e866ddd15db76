using System.Text.Json.Nodes;
using Ember.OpenStack;

namespace Ember.Client;

/// <summary>Credentials and endpoint selection for one cloud after every source is merged, and whether to check its TLS certificate.</summary>
/// <remarks>Printed, it shows neither password nor token (<see cref="OpenStackCredentials"/>).</remarks>
public sealed record CloudCredentials : OpenStackCredentials
{
    public bool Insecure { get; init; }
}

/// <summary>
/// Resolves credentials the way the python clients do: command-line flags, then OS_* variables,
/// then the named cloud of the first clouds.yaml found (OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
/// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml), with secure.yaml merged in.
/// </summary>
public static class CloudConfig
{
    /// <summary>Keys of the "auth" section and the OS_* variables that set them.</summary>
    private static readonly (string Key, string Env)[] s_authKeys =
    [
        ("auth_url", "OS_AUTH_URL"),
        ("username", "OS_USERNAME"),
        ("user_id", "OS_USER_ID"),
        ("password", "OS_PASSWORD"),
        ("project_name", "OS_PROJECT_NAME"),
        ("project_id", "OS_PROJECT_ID"),
        ("user_domain_name", "OS_USER_DOMAIN_NAME"),
        ("user_domain_id", "OS_USER_DOMAIN_ID"),
        ("project_domain_name", "OS_PROJECT_DOMAIN_NAME"),
        ("project_domain_id", "OS_PROJECT_DOMAIN_ID"),
        ("token", "OS_TOKEN"),
    ];

    public static IEnumerable<string> ConfigFiles(CliContext context, string baseName)
    {
        var fromEnv = context.Env(baseName == "clouds" ? "OS_CLIENT_CONFIG_FILE" : "OS_CLIENT_SECURE_FILE");
        if (fromEnv is not null)
        {
            yield return fromEnv;
        }

        foreach (var dir in new[] { context.CurrentDirectory, Path.Combine(context.HomeDirectory, ".config", "openstack"), "/etc/openstack" })
        {
            foreach (var ext in new[] { ".yaml", ".yml", ".json" })
            {
                yield return Path.Combine(dir, baseName + ext);
            }
        }
    }

    /// <summary>Merges the sources. <paramref name="flags"/> holds auth keys given on the command line.</summary>
    public static CloudCredentials Resolve(CliContext context, string? cloudName, IReadOnlyDictionary<string, string?> flags)
    {
        cloudName ??= context.Env("OS_CLOUD");
        var merged = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (cloudName is not null)
        {
            var cloud = LoadCloud(context, "clouds", cloudName)
                ?? throw new CliException($"Cloud {cloudName} was not found in {string.Join(", ", ConfigFiles(context, "clouds").Where(File.Exists).DefaultIfEmpty("any clouds.yaml (none found)"))}");
            Flatten(cloud, merged);
            if (LoadCloud(context, "secure", cloudName) is { } secure)
            {
                Flatten(secure, merged);
            }
        }

        foreach (var (key, env) in s_authKeys)
        {
            if (context.Env(env) is { } value)
            {
                merged[key] = value;
            }
        }

        // The 2015 clients' names for the project.
        merged["project_name"] = merged.GetValueOrDefault("project_name") ?? context.Env("OS_TENANT_NAME");
        merged["project_id"] = merged.GetValueOrDefault("project_id") ?? context.Env("OS_TENANT_ID");
        if (context.Env("OS_REGION_NAME") is { } region)
        {
            merged["region_name"] = region;
        }

        if (context.Env("OS_INTERFACE") is { } iface)
        {
            merged["interface"] = iface;
        }

        if (context.Env("OS_INSECURE") is { } insecure)
        {
            merged["insecure"] = insecure;
        }

        foreach (var (key, value) in flags)
        {
            if (value is not null)
            {
                merged[key] = value;
            }
        }

        string? Get(string key) => merged.GetValueOrDefault(key) is { Length: > 0 } v ? v : null;
        return new CloudCredentials
        {
            AuthUrl = Get("auth_url"),
            Username = Get("username"),
            UserId = Get("user_id"),
            Password = Get("password"),
            ProjectName = Get("project_name"),
            ProjectId = Get("project_id"),
            UserDomainName = Get("user_domain_name") ?? Get("domain_name") ?? "Default",
            UserDomainId = Get("user_domain_id") ?? Get("domain_id"),
            ProjectDomainName = Get("project_domain_name") ?? Get("domain_name") ?? "Default",
            ProjectDomainId = Get("project_domain_id") ?? Get("domain_id"),
            RegionName = Get("region_name"),
            Interface = (Get("interface") ?? "public").Replace("URL", "", StringComparison.Ordinal),
            Token = Get("token"),
            Insecure = Get("insecure") is "true" or "True" or "1" || Get("verify") is "false" or "False",
        };
    }

    private static JsonObject? LoadCloud(CliContext context, string baseName, string cloudName)
    {
        var file = ConfigFiles(context, baseName).FirstOrDefault(File.Exists);
        if (file is null)
        {
            return null;
        }

        var text = File.ReadAllText(file);
        JsonNode? root;
        try
        {
            root = file.EndsWith(".json", StringComparison.Ordinal) ? JsonNode.Parse(text) : Yaml.Parse(text);
        }
        catch (Exception e) when (e is YamlDotNet.Core.YamlException or System.Text.Json.JsonException)
        {
            throw new CliException($"Cannot read {file}: {e.Message}");
        }

        return root?["clouds"]?[cloudName] as JsonObject;
    }

    /// <summary>Puts the keys of "auth" and the top-level scalars (region_name, interface, verify) in one map.</summary>
    private static void Flatten(JsonObject cloud, Dictionary<string, string?> into)
    {
        foreach (var (key, value) in cloud)
        {
            if (key == "auth" && value is JsonObject auth)
            {
                foreach (var (authKey, authValue) in auth)
                {
                    into[authKey] = ScalarText(authValue);
                }
            }
            else if (value is JsonValue)
            {
                into[key] = ScalarText(value);
            }
        }
    }

    private static string? ScalarText(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v => v.ToJsonString(),
        _ => null,
    };
}
