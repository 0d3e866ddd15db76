namespace Ember.Server.Identity;

/// <summary>Identity settings with Keystone's names: the admin project, lock-out and login rate limits.</summary>
public sealed class IdentityOptions
{
    /// <summary>Keystone's [resource] admin_project_name: the admin role on this project is the cloud admin.</summary>
    public string AdminProjectName { get; set; } = "admin";

    /// <summary>Keystone's [resource] admin_project_domain_name.</summary>
    public string AdminProjectDomainName { get; set; } = "Default";
}
