using System.Text;

namespace Ember.OpenStack;

/// <summary>
/// Who logs in to Keystone v3 and where: a user (by id, or by name in a domain) with a password, or a pre-issued
/// token, scoped to a project; and which endpoints of the catalog to use (interface, region).
/// </summary>
public record OpenStackCredentials
{
    /// <summary>Keystone's URL, versioned or not (…/identity, …/identity/v3, …/v2.0 are all accepted).</summary>
    public string? AuthUrl { get; init; }

    public string? Username { get; init; }

    public string? UserId { get; init; }

    public string? Password { get; init; }

    public string? ProjectName { get; init; }

    public string? ProjectId { get; init; }

    public string UserDomainName { get; init; } = "Default";

    public string? UserDomainId { get; init; }

    public string ProjectDomainName { get; init; } = "Default";

    public string? ProjectDomainId { get; init; }

    public string? RegionName { get; init; }

    /// <summary>The catalog interface whose endpoints are used: public, internal or admin.</summary>
    public string Interface { get; init; } = "public";

    /// <summary>A pre-issued token (OS_TOKEN / auth.token): exchanged for a scoped one instead of the password.</summary>
    public string? Token { get; init; }

    /// <summary>Keystone's v3 URL, from the auth URL as users write it: unversioned, …/v3 or …/v2.0; null without an auth URL.</summary>
    public string? IdentityUrl
    {
        get
        {
            var url = AuthUrl?.TrimEnd('/');
            if (url is null)
            {
                return null;
            }

            if (url.EndsWith("/v2.0", StringComparison.Ordinal))
            {
                url = url[..^"/v2.0".Length];
            }

            return url.EndsWith("/v3", StringComparison.Ordinal) ? url : url + "/v3";
        }
    }

    /// <summary>True when there is enough to log in: a token, or a user and a password.</summary>
    public bool CanLogIn => Token is not null || ((Username is not null || UserId is not null) && Password is not null);

    /// <summary>Prints which secret is set, never the secret, so a logged or printed record does not leak it.</summary>
    protected virtual bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"AuthUrl = {AuthUrl}, Username = {Username}, UserId = {UserId}, UserDomain = {UserDomainId ?? UserDomainName}, ");
        builder.Append($"ProjectName = {ProjectName}, ProjectId = {ProjectId}, ProjectDomain = {ProjectDomainId ?? ProjectDomainName}, ");
        builder.Append($"RegionName = {RegionName}, Interface = {Interface}, Password = {(Password is null ? "(none)" : "***")}, Token = {(Token is null ? "(none)" : "***")}");
        return true;
    }
}
