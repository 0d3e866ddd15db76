using System.ComponentModel.DataAnnotations;

namespace Ember.Server.Identity;

/// <summary>Identity settings with Keystone's names where Keystone has them: tokens, the first passwords, the admin project, lock-out, login limits.</summary>
public sealed class IdentityOptions
{
    /// <summary>Keystone's [token] expiration, in seconds.</summary>
    [Range(60, 7 * 24 * 3600)]
    public int TokenLifetimeSeconds { get; set; } = 3600;

    /// <summary>The admin user's password on first start (EMBER_ADMIN_PASSWORD); generated when unset.</summary>
    public string? AdminPassword { get; set; }

    /// <summary>The demo user's password on first start (EMBER_DEMO_PASSWORD); generated when unset.</summary>
    public string? DemoPassword { get; set; }

    /// <summary>
    /// Keystone's [resource] admin_project_name: the admin role on this project is the cloud admin. Empty is Keystone's
    /// unset option: every project is an admin project, so the admin role anywhere is the cloud admin (what DevStack
    /// runs and Tempest's dynamic credentials expect; never for a shared cloud).
    /// </summary>
    public string AdminProjectName { get; set; } = "admin";

    /// <summary>Keystone's [resource] admin_project_domain_name.</summary>
    [Required]
    public string AdminProjectDomainName { get; set; } = "Default";

    /// <summary>Keystone's [security_compliance] lockout_failure_attempts: failed logins in a row that lock a user; 0 (the default, as in Keystone) is off.</summary>
    [Range(0, 1000)]
    public int LockoutFailureAttempts { get; set; }

    /// <summary>Keystone's [security_compliance] lockout_duration, in seconds.</summary>
    [Range(1, 365 * 24 * 3600)]
    public int LockoutDurationSeconds { get; set; } = 1800;

    /// <summary>Failed logins one user name may cause per window before further attempts get 429.</summary>
    [Range(1, int.MaxValue)]
    public int FailedLoginsPerUser { get; set; } = 10;

    /// <summary>Failed logins one client address may cause per window before further attempts get 429.</summary>
    [Range(1, int.MaxValue)]
    public int FailedLoginsPerSource { get; set; } = 30;

    /// <summary>The window, in seconds, both failed-login limits count over.</summary>
    [Range(1, 24 * 3600)]
    public int FailedLoginWindowSeconds { get; set; } = 60;

    /// <summary>Password hashes computed at once (each takes a core for ~0.1 s); 0 means one less than the cores, at least 1.</summary>
    [Range(0, 1024)]
    public int MaxConcurrentPasswordHashes { get; set; }

    /// <summary>Logins waiting for a hashing slot (without a thread) before further ones get 429.</summary>
    [Range(0, 100_000)]
    public int PasswordHashQueueLimit { get; set; } = 32;
}
