using System.Text.Json.Nodes;
using Ember.OpenStack;
using Ember.Server.Common;

namespace Ember.Server.Identity;

/// <summary>
/// clouds.yaml and the openrc files in the data dir: the only places a password is written in clear, 0600.
/// Ember reads its own clouds.yaml back on restart to keep the passwords in it (there is no other copy).
/// </summary>
public static class ClientFiles
{
    public const string AdminCloud = "ember";
    public const string DemoCloud = "ember-demo";

    /// <summary>Writes clouds.yaml, admin-openrc and demo-openrc; a null password leaves that user's entry out.</summary>
    public static void Write(string dataDir, string authUrl, string? adminPassword, string? demoPassword)
    {
        var clouds = new JsonObject();
        AddCloud(clouds, AdminCloud, authUrl, "admin", adminPassword);
        AddCloud(clouds, DemoCloud, authUrl, "demo", demoPassword);
        var yaml = Yaml.Write(new JsonObject { ["clouds"] = clouds }, "Written by ember serve on every start; edits are overwritten.");
        DataDirectory.WritePrivateFile(Path.Combine(dataDir, "clouds.yaml"), yaml);
        WriteOpenRc(dataDir, authUrl, "admin", adminPassword);
        WriteOpenRc(dataDir, authUrl, "demo", demoPassword);
    }

    /// <summary>The password of <paramref name="cloud"/> in the data dir's clouds.yaml as Ember wrote it, or null.</summary>
    public static string? ReadPassword(string dataDir, string cloud) => ReadAuthField(dataDir, cloud, "password");

    /// <summary>The auth_url clouds.yaml was last written with, or null.</summary>
    public static string? ReadAuthUrl(string dataDir) =>
        ReadAuthField(dataDir, AdminCloud, "auth_url") ?? ReadAuthField(dataDir, DemoCloud, "auth_url");

    private static string? ReadAuthField(string dataDir, string cloud, string field)
    {
        var path = Path.Combine(dataDir, "clouds.yaml");
        if (!File.Exists(path))
        {
            return null;
        }

        return Yaml.Parse(File.ReadAllText(path))?["clouds"]?[cloud]?["auth"]?[field] is JsonValue value && value.TryGetValue(out string? text)
            ? text
            : null;
    }

    private static void AddCloud(JsonObject clouds, string cloud, string authUrl, string user, string? password)
    {
        if (password is null)
        {
            return;
        }

        clouds[cloud] = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["auth_url"] = authUrl,
                ["username"] = user,
                ["password"] = password,
                ["project_name"] = user,
                ["user_domain_name"] = "Default",
                ["project_domain_name"] = "Default",
            },
            ["region_name"] = "RegionOne",
            ["interface"] = "public",
            ["identity_api_version"] = 3,
        };
    }

    private static void WriteOpenRc(string dataDir, string authUrl, string user, string? password)
    {
        if (password is null)
        {
            return;
        }

        // Single quotes in the shell: a ' inside ends the string, adds an escaped ', and starts a new one.
        var shellPassword = "'" + password.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        DataDirectory.WritePrivateFile(Path.Combine(dataDir, $"{user}-openrc"), $"""
            # Source this file: . {user}-openrc
            export OS_AUTH_URL={authUrl}
            export OS_USERNAME={user}
            export OS_PASSWORD={shellPassword}
            export OS_PROJECT_NAME={user}
            export OS_USER_DOMAIN_NAME=Default
            export OS_PROJECT_DOMAIN_NAME=Default
            export OS_REGION_NAME=RegionOne
            export OS_IDENTITY_API_VERSION=3
            export OS_INTERFACE=public

            """);
    }
}
