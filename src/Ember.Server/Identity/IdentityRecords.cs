namespace Ember.Server.Identity;

// Each row also has a parameterless constructor: Dapper then fills the properties one by one,
// converting SQLite's integers to bool, instead of requiring exact constructor types.

public sealed record DomainRow(string Id, string Name, string? Description, bool Enabled)
{
    public DomainRow() : this("", "", null, false) { }
}

public sealed record ProjectRow(string Id, string Name, string DomainId, string? Description, bool Enabled, DateTime CreatedAt, string? ParentId = null)
{
    public ProjectRow() : this("", "", "", null, false, default) { }
}

/// <summary>A user; <see cref="Extra"/> is a JSON object of the attributes Keystone keeps without knowing them.</summary>
public sealed record UserRow(
    string Id, string Name, string DomainId, string? PasswordHash, bool Enabled,
    string? DefaultProjectId, string? Email, string? Description, DateTime CreatedAt, string? Extra = null)
{
    public UserRow() : this("", "", "", null, false, null, null, null, default) { }
}

/// <summary>A role: global, or domain-specific (<see cref="DomainId"/>), which tokens never carry, only the roles it implies.</summary>
public sealed record RoleRow(string Id, string Name, string? Description, string? DomainId = null)
{
    public RoleRow() : this("", "", null) { }
}

/// <summary>
/// A role given to a user or a group ("user"/"group") on a project, a domain or the system ("project"/"domain"/"system",
/// the system's id always "all"). <see cref="Inherited"/>: an OS-INHERIT grant, for the projects under the target only.
/// </summary>
public sealed record GrantRow(string ActorKind, string ActorId, string TargetKind, string TargetId, string RoleId)
{
    public GrantRow() : this("", "", "", "", "") { }

    public const string User = "user";
    public const string Group = "group";
    public const string Project = "project";
    public const string Domain = "domain";
    public const string System = "system";
    public const string SystemAll = "all";

    public bool Inherited { get; init; }
}

public sealed record GroupRow(string Id, string Name, string DomainId, string? Description)
{
    public GroupRow() : this("", "", "", null) { }
}

/// <summary>
/// An issued token: scoped to a project, to a domain (<see cref="DomainId"/>), to the system (<see cref="SystemScope"/>), or to
/// none; made with an application
/// credential (<see cref="AppCredId"/>) or scoped to a trust (<see cref="TrustId"/>), it lives only while that does.
/// </summary>
public sealed record TokenRow(
    string TokenHash, string UserId, string? ProjectId, string Methods, string AuditId,
    DateTime IssuedAt, DateTime ExpiresAt, bool Revoked, string? DomainId = null, string? AppCredId = null, string? TrustId = null,
    bool SystemScope = false)
{
    public TokenRow() : this("", "", null, "", "", default, default, false) { }
}

/// <summary>An application credential; <see cref="SecretHash"/> is a <see cref="PasswordHasher"/> hash, the secret itself is shown once.</summary>
public sealed record AppCredentialRow(
    string Id, string Name, string UserId, string ProjectId, string SecretHash, string? Description, DateTime? ExpiresAt, bool Unrestricted,
    DateTime CreatedAt)
{
    public AppCredentialRow() : this("", "", "", "", "", null, null, false, default) { }
}

/// <summary>A trust: the trustor lends roles on <see cref="ProjectId"/> to the trustee; null <see cref="RemainingUses"/> is unlimited.</summary>
public sealed record TrustRow(
    string Id, string TrustorUserId, string TrusteeUserId, string? ProjectId, bool Impersonation, DateTime? ExpiresAt, long? RemainingUses,
    DateTime CreatedAt)
{
    public TrustRow() : this("", "", "", null, false, null, null, default) { }
}

/// <summary>A role inference rule: whoever holds the prior role holds the implied one too.</summary>
public sealed record ImpliedRoleRow(string PriorRoleId, string ImpliedRoleId)
{
    public ImpliedRoleRow() : this("", "") { }
}
