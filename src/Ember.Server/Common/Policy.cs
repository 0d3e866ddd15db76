using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Common;

/// <summary>
/// Who may do an action. Roles imply each other as in Keystone's defaults (admin > member > reader) within
/// the token's project; cloud-wide power needs the admin role on the admin project.
/// </summary>
public enum PolicyRule
{
    /// <summary>Any role on the token's project.</summary>
    Reader,

    /// <summary>member or admin on the token's project.</summary>
    Member,

    /// <summary>The cloud admin only: the admin role on the admin project (<see cref="RequestContext.IsCloudAdmin"/>).</summary>
    Admin,
}

/// <summary>Rows an area adds to the policy table (registered in DI by each area's Add...Services).</summary>
public sealed record PolicyRules(IReadOnlyList<KeyValuePair<string, PolicyRule>> Rules);

/// <summary>
/// The one policy table: every protected action and its rule, gathered at start from the rows each area
/// registers, and read-only from then on. An action nobody listed is an admin action (fail closed).
/// </summary>
public sealed class Policy
{
    private readonly FrozenDictionary<string, PolicyRule> _rules;

    public Policy(IEnumerable<PolicyRules> contributions)
    {
        var rules = new Dictionary<string, PolicyRule>(StringComparer.Ordinal);
        foreach (var (action, rule) in contributions.SelectMany(c => c.Rules))
        {
            if (!rules.TryAdd(action, rule))
            {
                throw new InvalidOperationException($"Policy action {action} is registered twice.");
            }
        }

        _rules = rules.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The rule of every listed action (docs/security.md's policy table).</summary>
    public IReadOnlyDictionary<string, PolicyRule> Rules => _rules;

    public bool Allows(RequestContext context, string action) => _rules.GetValueOrDefault(action, PolicyRule.Admin) switch
    {
        PolicyRule.Admin => context.IsCloudAdmin,
        PolicyRule.Member => context.HasRole("admin") || context.HasRole("member"),
        _ => context.HasRole("admin") || context.HasRole("member") || context.HasRole("reader"),
    };

    /// <summary>Throws 403 with the message the imitated service uses when <paramref name="action"/> is refused.</summary>
    public void Enforce(RequestContext context, string action)
    {
        if (!Allows(context, action))
        {
            throw ApiException.Forbidden(DeniedMessage(action));
        }
    }

    private static string DeniedMessage(string action)
    {
        if (action.StartsWith("identity:", StringComparison.Ordinal))
        {
            return $"You are not authorized to perform the requested action: {action}.";
        }

        if (action.StartsWith("image:", StringComparison.Ordinal))
        {
            return $"You are not authorized to complete {action["image:".Length..]} action.";
        }

        return $"Policy doesn't allow {action} to be performed.";
    }
}

/// <summary>The request's policy check from a handler: the table is the host's <see cref="Policy"/> service.</summary>
public static class PolicyHttpExtensions
{
    public static void Enforce(this HttpContext http, RequestContext context, string action) =>
        http.RequestServices.GetRequiredService<Policy>().Enforce(context, action);

    public static bool Allows(this HttpContext http, RequestContext context, string action) =>
        http.RequestServices.GetRequiredService<Policy>().Allows(context, action);
}
