namespace Ember.Server.Common;

/// <summary>Who is calling: filled once per request from a validated token.</summary>
public sealed record RequestContext(
    string UserId,
    string UserName,
    string DomainId,
    string? ProjectId,
    string? ProjectName,
    IReadOnlyList<string> Roles,
    DateTime ExpiresAt,
    bool IsAdminProject = false)
{
    /// <summary>
    /// The cloud admin: the admin role on the admin project (oslo.policy's <c>is_admin_project:True</c>).
    /// The admin role on any other project gives no power outside that project.
    /// </summary>
    public bool IsCloudAdmin => IsAdminProject && HasRole("admin");

    /// <summary>Same as <see cref="IsCloudAdmin"/>, for code written before the rename.</summary>
    public bool IsAdmin => IsCloudAdmin;

    public bool HasRole(string role) => Roles.Contains(role);

    /// <summary>The domain of a domain-scoped token (then <see cref="ProjectId"/> is null and the roles are the domain's).</summary>
    public string? ScopeDomainId { get; init; }

    /// <summary>The application credential the token was made with, if any.</summary>
    public string? ApplicationCredentialId { get; init; }

    /// <summary>A token made with a restricted application credential: it may not create credentials or trusts (Keystone's rule).</summary>
    public bool IsRestrictedApplicationCredential { get; init; }

    /// <summary>The trust of a trust-scoped token (then the roles are the trust's).</summary>
    public string? TrustId { get; init; }

    /// <summary>The project that scopes this request; services other than identity need one.</summary>
    public string RequireProject() =>
        ProjectId ?? throw ApiException.Unauthorized("The request you have made requires a project-scoped token.");
}
