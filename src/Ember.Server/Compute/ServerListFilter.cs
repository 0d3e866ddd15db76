using Ember.Server.Common;
using Microsoft.AspNetCore.Http;

namespace Ember.Server.Compute;

/// <summary>
/// The list filters of GET /servers beyond name and status: flavor, image, host (admins), changes-since and (2.66)
/// changes-before, tags (2.26: tags, tags-any, not-tags, not-tags-any), (2.73) locked, and the columns admins filter
/// on and, from 2.83, members too.
/// </summary>
internal sealed class ServerListFilter
{
    private string? _flavor;
    private string? _image;
    private string? _host;
    private DateTime? _changesSince;
    private DateTime? _changesBefore;
    private bool? _locked;
    private string? _userId;
    private string[]? _vmStates;
    private string[]? _taskStates;
    private int? _powerState;
    private List<(Func<ServerRow, string?> Field, System.Text.RegularExpressions.Regex Pattern)> _patterns = [];
    private string[]? _allTags;
    private string[]? _anyTags;
    private string[]? _notAllTags;
    private string[]? _notAnyTags;
    private ILookup<string, string>? _tags;

    /// <summary>
    /// The query parameters Nova's server list schema knows (index_query_v275, whose additionalProperties is false):
    /// from 2.75 any other is a 400. Ember filters on a part of them; the rest are taken and ignored, as before 2.75.
    /// </summary>
    private static readonly HashSet<string> s_known = new(StringComparer.Ordinal)
    {
        "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id", "ramdisk_id", "hostname",
        "key_name", "power_state", "vm_state", "task_state", "host", "node", "flavor", "reservation_id", "launched_at",
        "terminated_at", "availability_zone", "name", "display_name", "description", "display_description", "locked_by",
        "uuid", "root_device_name", "config_drive", "access_ip_v4", "access_ip_v6", "auto_disk_config", "progress",
        "sort_key", "sort_dir", "all_tenants", "soft_deleted", "deleted", "status", "changes-since", "ip", "ip6",
        "created_at", "block_device_mapping", "services", "metadata", "system_metadata", "info_cache", "security_groups",
        "pci_devices", "limit", "marker", "tags", "tags-any", "not-tags", "not-tags-any", "changes-before", "locked",
    };

    /// <summary>Nova's sort keys (VALID_SORT_KEYS); those it ignores below 2.75 (SERVER_LIST_IGNORE_SORT_KEY) follow.</summary>
    private static readonly HashSet<string> s_sortKeys = new(StringComparer.Ordinal)
    {
        "access_ip_v4", "access_ip_v6", "auto_disk_config", "availability_zone", "config_drive", "created_at", "display_description",
        "display_name", "host", "hostname", "image_ref", "instance_type_id", "kernel_id", "key_name", "launch_index", "launched_at",
        "locked_by", "node", "power_state", "progress", "project_id", "ramdisk_id", "root_device_name", "task_state", "terminated_at",
        "updated_at", "user_id", "uuid", "vm_state",
    };

    private static readonly HashSet<string> s_ignoredSortKeys = new(StringComparer.Ordinal)
    {
        "architecture", "cell_name", "cleaned", "default_ephemeral_device", "default_swap_device", "deleted", "deleted_at",
        "disable_terminate", "ephemeral_gb", "ephemeral_key_uuid", "id", "key_data", "launched_on", "locked", "memory_mb", "os_type",
        "reservation_id", "root_gb", "shutdown_terminate", "user_data", "vcpus", "vm_mode",
    };

    /// <summary>
    /// 2.75: 400 for a query parameter Nova's schema does not know, and for the sort keys Nova ignored before (2.73 made
    /// locked a real one). A sort key outside Nova's list is a 400 on every version, as its schema's enum.
    /// </summary>
    public static void RefuseUnknown(IQueryCollection query, Microversion version)
    {
        if (version.AtLeast(75) && query.Keys.FirstOrDefault(k => !s_known.Contains(k)) is { } unknown)
        {
            throw ApiException.BadRequest($"Invalid input for query parameters {unknown}. Additional properties are not allowed ('{unknown}' was unexpected)");
        }

        foreach (var key in query["sort_key"].OfType<string>())
        {
            var valid = s_sortKeys.Contains(key) || key == "locked" && version.AtLeast(73) || s_ignoredSortKeys.Contains(key) && !version.AtLeast(75);
            if (!valid)
            {
                throw ApiException.BadRequest($"Invalid input for query parameters sort_key. Value: {key}. '{key}' is not one of the sort keys Nova allows at {version}");
            }
        }
    }

    public static async Task<ServerListFilter> ParseAsync(IQueryCollection query, RequestContext context, Microversion version, ComputeStore store)
    {
        RefuseUnknown(query, version);
        var filter = new ServerListFilter
        {
            _flavor = Value(query, "flavor"),
            _image = Value(query, "image"),
            // Nova drops host for anyone but an admin.
            _host = context.IsCloudAdmin ? Value(query, "host") : null,
            _changesSince = Time(query, "changes-since"),
            _changesBefore = version.AtLeast(66) ? Time(query, "changes-before") : null,
        };
        if (filter._changesSince is { } since && filter._changesBefore is { } before && since > before)
        {
            throw ApiException.BadRequest($"The value of changes-since must be less than or equal to changes-before.");
        }

        if (version.AtLeast(73) && Value(query, "locked") is { } locked)
        {
            filter._locked = Json.ParseBoolean(locked) ?? throw ApiException.BadRequest($"Invalid input for query parameters locked. Value: {locked}. Unrecognized value '{locked}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'");
        }

        // Admins filter on every column; from 2.83 members on these too (Nova drops them silently below).
        if (context.IsCloudAdmin || version.AtLeast(83))
        {
            filter.ParseColumns(query, version);
        }

        if (version.AtLeast(26))
        {
            filter._allTags = Tags(query, "tags");
            filter._anyTags = Tags(query, "tags-any");
            filter._notAllTags = Tags(query, "not-tags");
            filter._notAnyTags = Tags(query, "not-tags-any");
            if ((filter._allTags ?? filter._anyTags ?? filter._notAllTags ?? filter._notAnyTags) is not null)
            {
                filter._tags = await store.ListAllTagsAsync();
            }
        }

        return filter;
    }

    /// <summary>
    /// Nova's exact filters (user_id; vm_state and task_state, each value repeatable; power_state) and its regular
    /// expression filters on the other columns, a time column as its database text "yyyy-MM-dd HH:mm:ss".
    /// </summary>
    private void ParseColumns(IQueryCollection query, Microversion version)
    {
        _userId = Value(query, "user_id");
        _vmStates = query["vm_state"] is { Count: > 0 } vm ? [.. vm.OfType<string>()] : null;
        _taskStates = query["task_state"] is { Count: > 0 } task ? [.. task.OfType<string>()] : null;
        if (Value(query, "power_state") is { } power)
        {
            _powerState = int.TryParse(power, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var state)
                ? state
                : throw ApiException.BadRequest($"Invalid input for query parameters power_state. Value: {power}. It must be an integer.");
        }

        static string? Time(DateTime? t) => t?.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        (string Name, Func<ServerRow, string?> Field)[] columns =
        [
            ("availability_zone", s => s.AvailabilityZone),
            ("config_drive", s => s.ConfigDrive),
            ("key_name", s => s.KeyName),
            ("created_at", s => Time(s.CreatedAt)),
            ("launched_at", s => Time(s.LaunchedAt)),
            ("terminated_at", _ => null),
            // Ember keeps no build progress: Nova's column is 0 until a build or migration reports one.
            ("progress", _ => "0"),
            .. version.AtLeast(90) ? [("hostname", ComputeJson.Hostname)] : Array.Empty<(string, Func<ServerRow, string?>)>(),
        ];
        foreach (var (name, field) in columns)
        {
            if (Value(query, name) is { } pattern)
            {
                _patterns.Add((field, QueryParams.UserRegex(pattern)));
            }
        }
    }

    public bool Matches(ServerRow server)
    {
        if ((_userId is not null && server.UserId != _userId)
            || (_vmStates is not null && !_vmStates.Contains(server.VmState))
            || (_taskStates is not null && !_taskStates.Contains(server.TaskState))
            || (_powerState is { } power && server.PowerState != power)
            || _patterns.Any(p => p.Field(server) is not { } text || !QueryParams.IsMatch(p.Pattern, text)))
        {
            return false;
        }

        if ((_flavor is not null && server.FlavorId != _flavor)
            || (_image is not null && server.ImageId != _image)
            || (_host is not null && server.Host != _host)
            || (_changesSince is { } since && server.UpdatedAt < since)
            || (_changesBefore is { } before && server.UpdatedAt > before)
            || (_locked is { } locked && server.Locked != locked))
        {
            return false;
        }

        if (_tags is null)
        {
            return true;
        }

        var tags = _tags[server.Id].ToHashSet(StringComparer.Ordinal);
        return (_allTags is null || _allTags.All(tags.Contains))
            && (_anyTags is null || _anyTags.Any(tags.Contains))
            && (_notAllTags is null || !_notAllTags.All(tags.Contains))
            && (_notAnyTags is null || !_notAnyTags.Any(tags.Contains));
    }

    private static string? Value(IQueryCollection query, string name) => query[name] is { Count: > 0 } v ? v.ToString() : null;

    private static string[]? Tags(IQueryCollection query, string name) =>
        Value(query, name) is { } text ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;

    private static DateTime? Time(IQueryCollection query, string name) => ComputeApi.ChangesTime(query, name);
}
