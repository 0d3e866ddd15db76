using System.Text.Json.Nodes;
using Dapper;
using Ember.Server.Common;
using Ember.Server.Data;

namespace Ember.Server.Identity;

/// <summary>One option of a domain's configuration; <see cref="Value"/> is its JSON.</summary>
public sealed record DomainConfigRow(string DomainId, string GroupName, string OptionName, string Value)
{
    public DomainConfigRow() : this("", "", "", "null") { }
}

/// <summary>
/// Keystone's domain-specific configuration (/v3/domains/{id}/config): the identity and ldap groups' options a domain sets,
/// stored and shown as Keystone does. Ember reads none of it: every domain keeps using Ember's SQL identity.
/// </summary>
public sealed class DomainConfigStore(Database db)
{
    /// <summary>The options Keystone lets a domain set and shows, with keystone.conf's defaults (JSON).</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Defaults = new Dictionary<string, IReadOnlyDictionary<string, string>>
    {
        ["identity"] = new Dictionary<string, string> { ["driver"] = "\"sql\"", ["list_limit"] = "null" },
        ["ldap"] = new Dictionary<string, string>
        {
            ["url"] = "\"ldap://localhost\"",
            ["user"] = "null",
            ["suffix"] = "\"cn=example,cn=com\"",
            ["query_scope"] = "\"one\"",
            ["page_size"] = "0",
            ["alias_dereferencing"] = "\"default\"",
            ["debug_level"] = "null",
            ["chase_referrals"] = "null",
            ["user_tree_dn"] = "null",
            ["user_filter"] = "null",
            ["user_objectclass"] = "\"inetOrgPerson\"",
            ["user_id_attribute"] = "\"cn\"",
            ["user_name_attribute"] = "\"sn\"",
            ["user_mail_attribute"] = "\"mail\"",
            ["user_description_attribute"] = "\"description\"",
            ["user_pass_attribute"] = "\"userPassword\"",
            ["user_enabled_attribute"] = "\"enabled\"",
            ["user_enabled_invert"] = "false",
            ["user_enabled_mask"] = "0",
            ["user_enabled_default"] = "\"True\"",
            ["user_attribute_ignore"] = "[\"default_project_id\"]",
            ["user_default_project_id_attribute"] = "null",
            ["user_enabled_emulation"] = "false",
            ["user_enabled_emulation_dn"] = "null",
            ["user_enabled_emulation_use_group_config"] = "false",
            ["user_additional_attribute_mapping"] = "[]",
            ["group_tree_dn"] = "null",
            ["group_filter"] = "null",
            ["group_objectclass"] = "\"groupOfNames\"",
            ["group_id_attribute"] = "\"cn\"",
            ["group_name_attribute"] = "\"ou\"",
            ["group_members_are_ids"] = "false",
            ["group_member_attribute"] = "\"member\"",
            ["group_desc_attribute"] = "\"description\"",
            ["group_attribute_ignore"] = "[]",
            ["group_additional_attribute_mapping"] = "[]",
            ["tls_cacertfile"] = "null",
            ["tls_cacertdir"] = "null",
            ["use_tls"] = "false",
            ["tls_req_cert"] = "\"demand\"",
            ["use_pool"] = "true",
            ["pool_size"] = "10",
            ["pool_retry_max"] = "3",
            ["pool_retry_delay"] = "0.1",
            ["pool_connection_timeout"] = "-1",
            ["pool_connection_lifetime"] = "600",
            ["use_auth_pool"] = "true",
            ["auth_pool_size"] = "100",
            ["auth_pool_connection_lifetime"] = "60",
        },
    };

    /// <summary>Options a domain may set but that are never shown (Keystone's sensitive options).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Sensitive = new Dictionary<string, string[]> { ["identity"] = [], ["ldap"] = ["password"] };

    public static bool IsKnown(string group, string option) =>
        Defaults.TryGetValue(group, out var options) && (options.ContainsKey(option) || Sensitive[group].Contains(option));

    public static bool IsSensitive(string group, string option) => Sensitive.TryGetValue(group, out var options) && options.Contains(option);

    /// <summary>The domain's options, sensitive ones included (the API leaves them out).</summary>
    public async Task<IReadOnlyList<DomainConfigRow>> ListAsync(string domainId)
    {
        await using var c = await db.OpenAsync();
        return [.. await c.QueryAsync<DomainConfigRow>(
            "SELECT domain_id, group_name, option_name, value FROM domain_config WHERE domain_id = @Id ORDER BY group_name, option_name", new { Id = domainId })];
    }

    /// <summary>Writes the options; <paramref name="replace"/> first removes every option the domain had.</summary>
    public async Task WriteAsync(string domainId, IReadOnlyList<DomainConfigRow> rows, bool replace)
    {
        await using var c = await db.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (replace)
        {
            await c.ExecuteAsync("DELETE FROM domain_config WHERE domain_id = @Id", new { Id = domainId }, tx);
        }

        foreach (var row in rows)
        {
            await c.ExecuteAsync("""
                INSERT INTO domain_config (domain_id, group_name, option_name, value) VALUES (@DomainId, @GroupName, @OptionName, @Value)
                ON CONFLICT (domain_id, group_name, option_name) DO UPDATE SET value = excluded.value
                """, row, tx);
        }

        await tx.CommitAsync();
    }

    /// <summary>Deletes the domain's options, of one group, or one option; how many went.</summary>
    public async Task<int> DeleteAsync(string domainId, string? group, string? option)
    {
        await using var c = await db.OpenAsync();
        return await c.ExecuteAsync("""
            DELETE FROM domain_config WHERE domain_id = @Id AND (@Group IS NULL OR group_name = @Group) AND (@Option IS NULL OR option_name = @Option)
            """, new { Id = domainId, Group = group, Option = option });
    }

    /// <summary>The options shown: every one but the sensitive, grouped ({"group": {"option": value}}).</summary>
    public static JsonObject Shown(IEnumerable<DomainConfigRow> rows, string? onlyGroup = null)
    {
        var config = new JsonObject();
        foreach (var row in rows.Where(r => (onlyGroup is null || r.GroupName == onlyGroup) && !IsSensitive(r.GroupName, r.OptionName)))
        {
            if (config[row.GroupName] is not JsonObject group)
            {
                group = [];
                config[row.GroupName] = group;
            }

            group[row.OptionName] = JsonNode.Parse(row.Value);
        }

        return config;
    }

    public static ApiException Invalid(string message) => ApiException.Forbidden($"Invalid domain specific configuration: {message}.");
}
