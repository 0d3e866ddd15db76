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

/// <summary>The one policy table: every protected action and its rule. Services add their rows here.</summary>
public static class Policy
{
    private static readonly Dictionary<string, PolicyRule> s_rules = new(StringComparer.Ordinal)
    {
        // Identity (Keystone names).
        ["identity:list_projects"] = PolicyRule.Admin,
        ["identity:get_project"] = PolicyRule.Admin,
        ["identity:create_project"] = PolicyRule.Admin,
        ["identity:update_project"] = PolicyRule.Admin,
        ["identity:delete_project"] = PolicyRule.Admin,
        ["identity:list_users"] = PolicyRule.Admin,
        ["identity:get_user"] = PolicyRule.Admin,
        ["identity:create_user"] = PolicyRule.Admin,
        ["identity:update_user"] = PolicyRule.Admin,
        ["identity:delete_user"] = PolicyRule.Admin,
        ["identity:list_roles"] = PolicyRule.Admin,
        ["identity:get_role"] = PolicyRule.Admin,
        ["identity:create_role"] = PolicyRule.Admin,
        ["identity:delete_role"] = PolicyRule.Admin,
        ["identity:create_grant"] = PolicyRule.Admin,
        ["identity:check_grant"] = PolicyRule.Admin,
        ["identity:list_grants"] = PolicyRule.Admin,
        ["identity:revoke_grant"] = PolicyRule.Admin,
        ["identity:list_role_assignments"] = PolicyRule.Admin,
        ["identity:list_domains"] = PolicyRule.Admin,
        ["identity:get_domain"] = PolicyRule.Reader,
        ["identity:list_services"] = PolicyRule.Admin,
        ["identity:list_endpoints"] = PolicyRule.Admin,

        // Image (Glance names).
        ["image:get_images"] = PolicyRule.Reader,
        ["image:get_image"] = PolicyRule.Reader,
        ["image:download_image"] = PolicyRule.Reader,
        ["image:add_image"] = PolicyRule.Member,
        ["image:modify_image"] = PolicyRule.Member,
        ["image:upload_image"] = PolicyRule.Member,
        ["image:delete_image"] = PolicyRule.Member,
        ["image:publicize_image"] = PolicyRule.Admin,
    };

    /// <summary>Adds or replaces rows; used by services that register their actions at start-up.</summary>
    public static void Register(IEnumerable<KeyValuePair<string, PolicyRule>> rules)
    {
        lock (s_rules)
        {
            foreach (var (action, rule) in rules)
            {
                s_rules[action] = rule;
            }
        }
    }

    public static bool Allows(RequestContext context, string action)
    {
        PolicyRule rule;
        lock (s_rules)
        {
            if (!s_rules.TryGetValue(action, out rule))
            {
                // An action nobody listed is an admin action: fail closed.
                rule = PolicyRule.Admin;
            }
        }

        return rule switch
        {
            PolicyRule.Admin => context.IsCloudAdmin,
            PolicyRule.Member => context.HasRole("admin") || context.HasRole("member"),
            _ => context.HasRole("admin") || context.HasRole("member") || context.HasRole("reader"),
        };
    }

    /// <summary>Throws 403 with the message the imitated service uses when <paramref name="action"/> is refused.</summary>
    public static void Enforce(RequestContext context, string action)
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
