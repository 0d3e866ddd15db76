namespace Ember.Server.Identity;

// Each row also has a parameterless constructor: Dapper then fills the properties one by one,
// converting SQLite's integers to bool, instead of requiring exact constructor types.

public sealed record DomainRow(string Id, string Name, string? Description, bool Enabled)
{
    public DomainRow() : this("", "", null, false) { }
}

public sealed record ProjectRow(string Id, string Name, string DomainId, string? Description, bool Enabled, DateTime CreatedAt)
{
    public ProjectRow() : this("", "", "", null, false, default) { }
}

public sealed record UserRow(
    string Id, string Name, string DomainId, string? PasswordHash, bool Enabled,
    string? DefaultProjectId, string? Email, string? Description, DateTime CreatedAt)
{
    public UserRow() : this("", "", "", null, false, null, null, null, default) { }
}

public sealed record RoleRow(string Id, string Name, string? Description)
{
    public RoleRow() : this("", "", null) { }
}

public sealed record RoleAssignmentRow(string UserId, string ProjectId, string RoleId)
{
    public RoleAssignmentRow() : this("", "", "") { }
}

public sealed record TokenRow(
    string TokenHash, string UserId, string? ProjectId, string Methods, string AuditId,
    DateTime IssuedAt, DateTime ExpiresAt, bool Revoked)
{
    public TokenRow() : this("", "", null, "", "", default, default, false) { }
}
