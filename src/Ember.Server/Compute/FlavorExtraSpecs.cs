using System.Text.RegularExpressions;
using Ember.Server.Common;

namespace Ember.Server.Compute;

/// <summary>What kind of value a known extra spec takes.</summary>
internal enum ExtraSpecKind
{
    Text,
    Integer,
    Boolean,
}

/// <summary>One extra spec Nova knows: its name (a pattern for the parametric ones) and what its value may be.</summary>
internal sealed record ExtraSpecRule(string Name, ExtraSpecKind Kind, long? Min = null, long? Max = null, string[]? Values = null, string? Pattern = null);

/// <summary>
/// 2.86's validation of flavor extra specs: a spec in a namespace Nova knows must be one of its known specs, with a
/// value of the right kind. The table is the list of nova/api/validation/extra_specs (as of Nova 2025.2); resources
/// and trait take any upper-case class or trait name, where Nova also checks standard ones against os-resource-classes
/// and os-traits. Specs without a namespace, or in other namespaces, are kept as given, as in Nova.
/// </summary>
internal static class FlavorExtraSpecs
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(1);

    private static readonly ExtraSpecRule[] s_rules =
    [
        new("accel:device_profile", ExtraSpecKind.Text),
        new("aggregate_instance_extra_specs:(?<key>.+)", ExtraSpecKind.Text),
        new("capabilities:id", ExtraSpecKind.Text),
        new("capabilities:uuid", ExtraSpecKind.Text),
        new("capabilities:service_id", ExtraSpecKind.Text),
        new("capabilities:host", ExtraSpecKind.Text),
        new("capabilities:vcpus", ExtraSpecKind.Text),
        new("capabilities:memory_mb", ExtraSpecKind.Text),
        new("capabilities:local_gb", ExtraSpecKind.Text),
        new("capabilities:vcpus_used", ExtraSpecKind.Text),
        new("capabilities:memory_mb_used", ExtraSpecKind.Text),
        new("capabilities:local_gb_used", ExtraSpecKind.Text),
        new("capabilities:hypervisor_type", ExtraSpecKind.Text),
        new("capabilities:hypervisor_version", ExtraSpecKind.Text),
        new("capabilities:hypervisor_hostname", ExtraSpecKind.Text),
        new("capabilities:free_ram_mb", ExtraSpecKind.Text),
        new("capabilities:free_disk_gb", ExtraSpecKind.Text),
        new("capabilities:current_workload", ExtraSpecKind.Text),
        new("capabilities:running_vms", ExtraSpecKind.Text),
        new("capabilities:disk_available_least", ExtraSpecKind.Text),
        new("capabilities:host_ip", ExtraSpecKind.Text),
        new("capabilities:mapped", ExtraSpecKind.Text),
        new("capabilities:cpu_allocation_ratio", ExtraSpecKind.Text),
        new("capabilities:ram_allocation_ratio", ExtraSpecKind.Text),
        new("capabilities:disk_allocation_ratio", ExtraSpecKind.Text),
        new("capabilities:total_usable_ram_mb", ExtraSpecKind.Text),
        new("capabilities:total_usable_disk_gb", ExtraSpecKind.Text),
        new("capabilities:disk_mb_used", ExtraSpecKind.Text),
        new("capabilities:free_disk_mb", ExtraSpecKind.Text),
        new("capabilities:vcpus_total", ExtraSpecKind.Text),
        new("capabilities:vcpus_used", ExtraSpecKind.Text),
        new("capabilities:num_instances", ExtraSpecKind.Text),
        new("capabilities:num_io_ops", ExtraSpecKind.Text),
        new("capabilities:failed_builds", ExtraSpecKind.Text),
        new("capabilities:aggregates", ExtraSpecKind.Text),
        new("capabilities:cell_uuid", ExtraSpecKind.Text),
        new("capabilities:updated", ExtraSpecKind.Text),
        new("capabilities:cpu_info(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:metrics(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:stats(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:numa_topology(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:supported_hv_specs(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:pci_device_pools(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:nodename(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:pci_stats(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:supported_instances(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:limits(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("capabilities:instances(?<filter>(:\\w+)*)", ExtraSpecKind.Text),
        new("hw:cpu_realtime", ExtraSpecKind.Boolean),
        new("hw:cpu_realtime_mask", ExtraSpecKind.Text, Pattern: "(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"),
        new("hw:hide_hypervisor_id", ExtraSpecKind.Boolean),
        new("hw:cpu_policy", ExtraSpecKind.Text, Values: ["dedicated", "shared", "mixed"]),
        new("hw:cpu_thread_policy", ExtraSpecKind.Text, Values: ["prefer", "isolate", "require"]),
        new("hw:emulator_threads_policy", ExtraSpecKind.Text, Values: ["isolate", "share"]),
        new("hw:cpu_dedicated_mask", ExtraSpecKind.Text, Pattern: "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"),
        new("hw:mem_page_size", ExtraSpecKind.Text, Pattern: "(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)"),
        new("hw:locked_memory", ExtraSpecKind.Boolean),
        new("hw:numa_nodes", ExtraSpecKind.Integer, Min: 1),
        new("hw:numa_cpus.(?<num>\\d+)", ExtraSpecKind.Text, Pattern: "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"),
        new("hw:numa_mem.(?<num>\\d+)", ExtraSpecKind.Integer, Min: 1),
        new("hw:pci_numa_affinity_policy", ExtraSpecKind.Text, Values: ["required", "preferred", "legacy", "socket"]),
        new("hw:cpu_sockets", ExtraSpecKind.Integer, Min: 1),
        new("hw:cpu_cores", ExtraSpecKind.Integer, Min: 1),
        new("hw:cpu_threads", ExtraSpecKind.Integer, Min: 1),
        new("hw:cpu_max_sockets", ExtraSpecKind.Integer, Min: 1),
        new("hw:cpu_max_cores", ExtraSpecKind.Integer, Min: 1),
        new("hw:cpu_max_threads", ExtraSpecKind.Integer, Min: 1),
        new("hw:boot_menu", ExtraSpecKind.Boolean),
        new("hw:vif_multiqueue_enabled", ExtraSpecKind.Boolean),
        new("hw:mem_encryption", ExtraSpecKind.Boolean),
        new("hw:mem_encryption_model", ExtraSpecKind.Text, Values: ["amd-sev", "amd-sev-es", "amd-sev-snp"]),
        new("hw:pmem", ExtraSpecKind.Text, Pattern: "([a-zA-Z0-9_]+(,)?)+"),
        new("hw:pmu", ExtraSpecKind.Boolean),
        new("hw:serial_port_count", ExtraSpecKind.Integer, Min: 0),
        new("hw:tpm_model", ExtraSpecKind.Text, Values: ["tpm-tis", "tpm-crb"]),
        new("hw:tpm_version", ExtraSpecKind.Text, Values: ["1.2", "2.0"]),
        new("hw:tpm_secret_security", ExtraSpecKind.Text, Values: ["user", "host", "deployment"]),
        new("hw:watchdog_action", ExtraSpecKind.Text, Values: ["none", "pause", "poweroff", "reset", "disabled"]),
        new("hw:viommu_model", ExtraSpecKind.Text, Values: ["intel", "smmuv3", "virtio", "auto"]),
        new("hw:virtio_packed_ring", ExtraSpecKind.Boolean),
        new("hw:sound_model", ExtraSpecKind.Text, Values: ["sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "virtio"]),
        new("hw:usb_model", ExtraSpecKind.Text, Values: ["none", "nec-xhci", "qemu-xhci"]),
        new("hw:redirected_usb_ports", ExtraSpecKind.Integer, Min: 0, Max: 15),
        new("hw:ephemeral_encryption", ExtraSpecKind.Boolean),
        new("hw:ephemeral_encryption_format", ExtraSpecKind.Text, Values: ["plain", "luks", "luksv2"]),
        new("hw_rng:allowed", ExtraSpecKind.Boolean),
        new("hw_rng:rate_bytes", ExtraSpecKind.Integer, Min: 0),
        new("hw_rng:rate_period", ExtraSpecKind.Integer, Min: 0),
        new("hw_video:ram_max_mb", ExtraSpecKind.Integer, Min: 0),
        new("hide_hypervisor_id", ExtraSpecKind.Boolean),
        new("group_policy", ExtraSpecKind.Text, Values: ["isolate", "none"]),
        new("os:secure_boot", ExtraSpecKind.Text, Values: ["disabled", "required"]),
        new("pci_passthrough:alias", ExtraSpecKind.Text, Pattern: "[^:]+:\\d+(?:\\s*,\\s*[^:]+:\\d+)*"),
        new("quota:cpu_limit", ExtraSpecKind.Integer, Min: 0),
        new("quota:cpu_reservation", ExtraSpecKind.Integer),
        new("quota:cpu_shares_level", ExtraSpecKind.Text, Values: ["custom", "high", "normal", "low"]),
        new("quota:cpu_shares_share", ExtraSpecKind.Integer, Min: 0),
        new("quota:memory_limit", ExtraSpecKind.Integer, Min: 0),
        new("quota:memory_reservation", ExtraSpecKind.Integer),
        new("quota:memory_shares_level", ExtraSpecKind.Text, Values: ["custom", "high", "normal", "low"]),
        new("quota:memory_shares_share", ExtraSpecKind.Integer, Min: 0),
        new("quota:disk_io_limit", ExtraSpecKind.Integer, Min: 0),
        new("quota:disk_io_reservation", ExtraSpecKind.Integer),
        new("quota:disk_io_shares_level", ExtraSpecKind.Text, Values: ["custom", "high", "normal", "low"]),
        new("quota:disk_io_shares_share", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_limit", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_reservation", ExtraSpecKind.Integer),
        new("quota:vif_shares_level", ExtraSpecKind.Text, Values: ["custom", "high", "normal", "low"]),
        new("quota:vif_shares_share", ExtraSpecKind.Integer, Min: 0),
        new("quota:cpu_shares", ExtraSpecKind.Integer, Min: 0),
        new("quota:cpu_period", ExtraSpecKind.Integer, Min: 0),
        new("quota:cpu_quota", ExtraSpecKind.Integer),
        new("quota:disk_read_bytes_sec", ExtraSpecKind.Integer, Min: 0),
        new("quota:disk_read_iops_sec", ExtraSpecKind.Integer, Min: 0),
        new("quota:disk_write_bytes_sec", ExtraSpecKind.Integer, Min: 0),
        new("quota:disk_write_iops_sec", ExtraSpecKind.Integer, Min: 0),
        new("quota:disk_total_bytes_sec", ExtraSpecKind.Integer, Min: 0),
        new("quota:disk_total_iops_sec", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_inbound_average", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_inbound_peak", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_inbound_burst", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_outbound_average", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_outbound_peak", ExtraSpecKind.Integer, Min: 0),
        new("quota:vif_outbound_burst", ExtraSpecKind.Integer, Min: 0),
        new("resources(?<group>([a-zA-Z0-9_-]{1,64})?):(?<resource>[A-Z0-9_]+)", ExtraSpecKind.Integer),
        new("trait(?<group>([a-zA-Z0-9_-]{1,64})?):(?<trait>[A-Z0-9_]+)", ExtraSpecKind.Text, Values: ["required", "forbidden"]),
        new("vmware:hw_version", ExtraSpecKind.Text),
        new("vmware:storage_policy", ExtraSpecKind.Text),
    ];

    private static readonly (ExtraSpecRule Rule, Regex Name)[] s_names =
        [.. s_rules.Select(r => (r, new Regex($"^(?:{r.Name})$", RegexOptions.CultureInvariant, s_timeout)))];

    /// <summary>The namespaces of the known specs (the part of a name before its first ':').</summary>
    private static readonly Regex[] s_namespaces =
        [.. s_rules.Where(r => r.Name.Contains(':', StringComparison.Ordinal)).Select(r => r.Name[..r.Name.IndexOf(':', StringComparison.Ordinal)]).Distinct()
            .Select(ns => new Regex($"^(?:{ns})$", RegexOptions.CultureInvariant, s_timeout))];

    /// <summary>Nova's ValidationError as its 400: an unknown spec in a known namespace, or a value not of its spec's kind.</summary>
    public static void Validate(string name, string value)
    {
        if (s_names.FirstOrDefault(n => n.Name.IsMatch(name)).Rule is { } rule)
        {
            Check(rule, value);
            return;
        }

        var colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0 && s_namespaces.Any(ns => ns.IsMatch(name[..colon])))
        {
            throw ApiException.BadRequest($"Validation failed; extra spec '{name}' does not appear to be a valid extra spec.");
        }
    }

    private static void Check(ExtraSpecRule rule, string value)
    {
        switch (rule.Kind)
        {
            case ExtraSpecKind.Integer:
                if (!long.TryParse(value.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number))
                {
                    throw ApiException.BadRequest($"Validation failed; '{value}' is not a valid integer value.");
                }

                if (rule.Max is { } max && number > max)
                {
                    throw ApiException.BadRequest($"Validation failed; '{value}' is greater than the max value of '{max}'.");
                }

                if (rule.Min is { } min && number < min)
                {
                    throw ApiException.BadRequest($"Validation failed; '{value}' is less than the min value of '{min}'.");
                }

                break;
            case ExtraSpecKind.Boolean:
                if (Json.ParseBoolean(value) is null)
                {
                    throw ApiException.BadRequest($"Validation failed; '{value}' is not a valid boolean-like value.");
                }

                break;
            default:
                if (rule.Pattern is { } pattern)
                {
                    if (!Regex.IsMatch(value, $"^(?:{pattern})$", RegexOptions.CultureInvariant, s_timeout))
                    {
                        throw ApiException.BadRequest($"Validation failed; '{value}' is not of the format '{pattern}'.");
                    }
                }
                else if (rule.Values is { } values && !values.Contains(value))
                {
                    throw ApiException.BadRequest($"Validation failed; '{value}' is not one of: {string.Join(", ", values)}.");
                }

                break;
        }
    }
}
