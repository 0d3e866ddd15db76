namespace Ember.Server.Identity;

/// <summary>Identity settings with Keystone's names where Keystone has them: the admin project, lock-out, login limits.</summary>
public sealed class IdentityOptions
{
    /// <summary>Keystone's [resource] admin_project_name: the admin role on this project is the cloud admin.</summary>
    public string AdminProjectName { get; set; } = "admin";

    /// <summary>Keystone's [resource] admin_project_domain_name.</summary>
    public string AdminProjectDomainName { get; set; } = "Default";

    /// <summary>Keystone's [security_compliance] lockout_failure_attempts: failed logins in a row that lock a user; 0 (the default, as in Keystone) is off.</summary>
    public int LockoutFailureAttempts { get; set; }

    /// <summary>Keystone's [security_compliance] lockout_duration, in seconds.</summary>
    public int LockoutDurationSeconds { get; set; } = 1800;

    /// <summary>Failed logins one user name may cause per window before further attempts get 429.</summary>
    public int FailedLoginsPerUser { get; set; } = 10;

    /// <summary>Failed logins one client address may cause per window before further attempts get 429.</summary>
    public int FailedLoginsPerSource { get; set; } = 30;

    /// <summary>The window, in seconds, both failed-login limits count over.</summary>
    public int FailedLoginWindowSeconds { get; set; } = 60;

    /// <summary>Password hashes computed at once (each takes a core for ~0.1 s); 0 means one less than the cores, at least 1.</summary>
    public int MaxConcurrentPasswordHashes { get; set; }

    /// <summary>Logins waiting for a hashing slot (without a thread) before further ones get 429.</summary>
    public int PasswordHashQueueLimit { get; set; } = 32;
}
