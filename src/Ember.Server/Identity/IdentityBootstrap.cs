using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Ember.Server.Identity;

/// <summary>
/// First start: the Default domain, roles admin/member/reader, the admin and demo projects and users.
/// Every start: clouds.yaml and openrc files that point at this host.
/// </summary>
public sealed partial class IdentityBootstrap(IdentityStore store, ILogger<IdentityBootstrap> logger)
{
    private sealed record Credentials(string AdminPassword, string DemoPassword);

    public async Task RunAsync(EmberOptions options, string authUrl)
    {
        var credentials = await LoadOrCreateCredentialsAsync(options);
        if (await store.FindDomainAsync(IdentityStore.DefaultDomainId, null) is null)
        {
            await CreateDefaultsAsync(credentials);
        }
        else
        {
            await EnsurePasswordAsync("admin", credentials.AdminPassword);
            await EnsurePasswordAsync("demo", credentials.DemoPassword);
        }

        WriteClientFiles(options.DataDir, authUrl, credentials);
    }

    private async Task CreateDefaultsAsync(Credentials credentials)
    {
        await store.CreateDefaultDomainAsync();
        var admin = await store.CreateRoleAsync("admin", null);
        var member = await store.CreateRoleAsync("member", null);
        await store.CreateRoleAsync("reader", null);
        var adminProject = await store.CreateProjectAsync("admin", IdentityStore.DefaultDomainId, "Bootstrap project for the cloud admin", true);
        var demoProject = await store.CreateProjectAsync("demo", IdentityStore.DefaultDomainId, "Demo project", true);
        var adminUser = await store.CreateUserAsync("admin", IdentityStore.DefaultDomainId, credentials.AdminPassword, true, adminProject.Id, null, null);
        var demoUser = await store.CreateUserAsync("demo", IdentityStore.DefaultDomainId, credentials.DemoPassword, true, demoProject.Id, null, null);
        await store.GrantAsync(adminUser.Id, adminProject.Id, admin.Id);
        await store.GrantAsync(demoUser.Id, demoProject.Id, member.Id);
        LogBootstrapped(logger);
    }

    private async Task EnsurePasswordAsync(string userName, string password)
    {
        var user = await store.FindUserAsync(null, userName, IdentityStore.DefaultDomainId);
        if (user is not null && !PasswordHasher.Verify(password, user.PasswordHash))
        {
            await store.UpdateUserAsync(user with { PasswordHash = PasswordHasher.Hash(password) });
        }
    }

    /// <summary>Passwords come from EMBER_ADMIN_PASSWORD/EMBER_DEMO_PASSWORD, else from the first start's generated ones.</summary>
    private static async Task<Credentials> LoadOrCreateCredentialsAsync(EmberOptions options)
    {
        var path = Path.Combine(options.DataDir, "credentials.json");
        Credentials? saved = null;
        if (File.Exists(path))
        {
            saved = JsonSerializer.Deserialize<Credentials>(await File.ReadAllTextAsync(path));
        }

        var credentials = new Credentials(
            options.AdminPassword ?? saved?.AdminPassword ?? Common.Ids.NewSecret(12),
            options.DemoPassword ?? saved?.DemoPassword ?? Common.Ids.NewSecret(12));
        if (credentials != saved)
        {
            WritePrivateFile(path, JsonSerializer.Serialize(credentials));
        }

        return credentials;
    }

    private static void WriteClientFiles(string dataDir, string authUrl, Credentials credentials)
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("# Written by ember serve on every start; edits are overwritten.");
        yaml.AppendLine("clouds:");
        AppendCloud(yaml, "ember", authUrl, "admin", "admin", credentials.AdminPassword);
        AppendCloud(yaml, "ember-demo", authUrl, "demo", "demo", credentials.DemoPassword);
        WritePrivateFile(Path.Combine(dataDir, "clouds.yaml"), yaml.ToString());
        WritePrivateFile(Path.Combine(dataDir, "admin-openrc"), OpenRc(authUrl, "admin", "admin", credentials.AdminPassword));
        WritePrivateFile(Path.Combine(dataDir, "demo-openrc"), OpenRc(authUrl, "demo", "demo", credentials.DemoPassword));
    }

    private static void AppendCloud(StringBuilder yaml, string cloud, string authUrl, string user, string project, string password)
    {
        yaml.AppendLine($"  {cloud}:");
        yaml.AppendLine("    auth:");
        yaml.AppendLine($"      auth_url: {authUrl}");
        yaml.AppendLine($"      username: {user}");
        yaml.AppendLine($"      password: \"{password}\"");
        yaml.AppendLine($"      project_name: {project}");
        yaml.AppendLine("      user_domain_name: Default");
        yaml.AppendLine("      project_domain_name: Default");
        yaml.AppendLine("    region_name: RegionOne");
        yaml.AppendLine("    interface: public");
        yaml.AppendLine("    identity_api_version: 3");
    }

    private static string OpenRc(string authUrl, string user, string project, string password) => $"""
        # Source this file: . {user}-openrc
        export OS_AUTH_URL={authUrl}
        export OS_USERNAME={user}
        export OS_PASSWORD='{password}'
        export OS_PROJECT_NAME={project}
        export OS_USER_DOMAIN_NAME=Default
        export OS_PROJECT_DOMAIN_NAME=Default
        export OS_REGION_NAME=RegionOne
        export OS_IDENTITY_API_VERSION=3
        export OS_INTERFACE=public

        """;

    private static void WritePrivateFile(string path, string content)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, path, overwrite: true);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bootstrapped identity: domain Default, roles admin/member/reader, projects and users admin and demo")]
    private static partial void LogBootstrapped(ILogger logger);
}
