using System.Text;

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
        var yaml = new StringBuilder();
        yaml.AppendLine("# Written by ember serve on every start; edits are overwritten.");
        yaml.AppendLine("clouds:");
        AppendCloud(yaml, AdminCloud, authUrl, "admin", "admin", adminPassword);
        AppendCloud(yaml, DemoCloud, authUrl, "demo", "demo", demoPassword);
        DataDirectory.WritePrivateFile(Path.Combine(dataDir, "clouds.yaml"), yaml.ToString());
        WriteOpenRc(dataDir, authUrl, "admin", adminPassword);
        WriteOpenRc(dataDir, authUrl, "demo", demoPassword);
    }

    /// <summary>The password of <paramref name="cloud"/> in the data dir's clouds.yaml as Ember wrote it, or null.</summary>
    public static string? ReadPassword(string dataDir, string cloud) => ReadField(dataDir, cloud, "password");

    /// <summary>The auth_url clouds.yaml was last written with, or null.</summary>
    public static string? ReadAuthUrl(string dataDir) =>
        ReadField(dataDir, AdminCloud, "auth_url") ?? ReadField(dataDir, DemoCloud, "auth_url");

    private static string? ReadField(string dataDir, string cloud, string field)
    {
        var path = Path.Combine(dataDir, "clouds.yaml");
        if (!File.Exists(path))
        {
            return null;
        }

        var inCloud = false;
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("  ", StringComparison.Ordinal) && !line.StartsWith("   ", StringComparison.Ordinal))
            {
                inCloud = line.Trim() == cloud + ":";
            }
            else if (inCloud && line.TrimStart().StartsWith(field + ": ", StringComparison.Ordinal))
            {
                return Unquote(line.TrimStart()[(field.Length + 2)..]);
            }
        }

        return null;
    }

    private static void AppendCloud(StringBuilder yaml, string cloud, string authUrl, string user, string project, string? password)
    {
        if (password is null)
        {
            return;
        }

        yaml.AppendLine($"  {cloud}:");
        yaml.AppendLine("    auth:");
        yaml.AppendLine($"      auth_url: {authUrl}");
        yaml.AppendLine($"      username: {user}");
        yaml.AppendLine($"      password: {Quote(password)}");
        yaml.AppendLine($"      project_name: {project}");
        yaml.AppendLine("      user_domain_name: Default");
        yaml.AppendLine("      project_domain_name: Default");
        yaml.AppendLine("    region_name: RegionOne");
        yaml.AppendLine("    interface: public");
        yaml.AppendLine("    identity_api_version: 3");
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

    /// <summary>A YAML single-quoted scalar: nothing is special inside but the quote, written twice.</summary>
    private static string Quote(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string Unquote(string text)
    {
        text = text.Trim();
        if (text.Length >= 2 && text[0] == '\'' && text[^1] == '\'')
        {
            return text[1..^1].Replace("''", "'", StringComparison.Ordinal);
        }

        // Files written before single quotes were used: "password".
        return text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? text[1..^1] : text;
    }
}
