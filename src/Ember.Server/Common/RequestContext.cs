namespace Ember.Server.Common;

/// <summary>Who is calling: filled once per request from a validated token.</summary>
public sealed record RequestContext(
    string UserId,
    string UserName,
    string DomainId,
    string? ProjectId,
    string? ProjectName,
    IReadOnlyList<string> Roles,
    DateTime ExpiresAt)
{
    public bool IsAdmin => Roles.Contains("admin");

    public bool HasRole(string role) => Roles.Contains(role);

    /// <summary>The project that scopes this request; services other than identity need one.</summary>
    public string RequireProject() =>
        ProjectId ?? throw ApiException.Unauthorized("The request you have made requires a project-scoped token.");
}
