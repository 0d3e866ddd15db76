using System.Globalization;
using Ember.Server.Common;

namespace Ember.Server.Volume;

// The services Ember runs in one process, named as Cinder names them: the scheduler on this host and the volume
// service of its one backend (host@backend). Their admin state (os-services) is kept; the scheduler honours it and the
// type's extra specs the way Cinder's CapabilitiesFilter does, so a volume that has no backend ends in error with a
// user message instead of being made anyway.
public sealed partial class VolumeService
{
    public const string SchedulerBinary = "cinder-scheduler";
    public const string VolumeBinary = "cinder-volume";

    /// <summary>The volume service's host: the backend's host@backend without its pool.</summary>
    public string VolumeServiceHost => backend.HostName.Split('#')[0];

    /// <summary>The scheduler's host: this machine.</summary>
    public string SchedulerHost => VolumeServiceHost.Split('@')[0];

    /// <summary>Both services, (binary, host), the scheduler first.</summary>
    public IReadOnlyList<(string Binary, string Host)> ServiceNames => [(SchedulerBinary, SchedulerHost), (VolumeBinary, VolumeServiceHost)];

    public async Task<ServiceStateRow> ServiceStateAsync(string binary, string host) =>
        await store.FindServiceStateAsync(binary, host) ?? new ServiceStateRow { ServiceBinary = binary, Host = host };

    /// <summary>enable, disable (with a reason or none): a service that is not one of Ember's is Cinder's 404.</summary>
    public Task<ServiceStateRow> SetServiceDisabledAsync(string host, string binary, bool disabled, Optional<string?> reason)
    {
        if (!ServiceNames.Contains((binary, host)))
        {
            throw ApiException.NotFound($"Service {binary} on host {host} could not be found.");
        }

        return store.ChangeServiceStateAsync(binary, host, current => current with { Disabled = disabled, DisabledReason = reason.Or(current.DisabledReason) });
    }

    /// <summary>
    /// freeze/thaw of the volume service on <paramref name="host"/> (host@backend, or the host alone as Cinder matches it):
    /// an unknown host and a second freeze or thaw are Cinder's 400s.
    /// </summary>
    public Task<ServiceStateRow> SetFrozenAsync(string host, bool frozen)
    {
        if (host != VolumeServiceHost && host != SchedulerHost)
        {
            throw ApiException.BadRequest($"Invalid input received: No service found with host={host}");
        }

        return store.ChangeServiceStateAsync(VolumeBinary, VolumeServiceHost, current => current.Frozen == frozen
            ? throw ApiException.BadRequest($"Invalid input received: Host is already {(frozen ? "Frozen" : "Thawed")}.")
            : current with { Frozen = frozen });
    }

    /// <summary>Per project, what the volume host keeps (os-hosts show).</summary>
    public Task<IReadOnlyList<HostProjectUsage>> HostUsageAsync() => store.HostUsageAsync();

    /// <summary>
    /// The capabilities the backend reports in its volume stats that do not change with use, the ones a type's extra
    /// specs may ask for (Cinder's CapabilitiesFilter): values as Cinder's drivers report them.
    /// </summary>
    public IReadOnlyDictionary<string, object> StaticCapabilities => new Dictionary<string, object>(StringComparer.Ordinal)
    {
        ["volume_backend_name"] = backend.Description.BackendName,
        ["vendor_name"] = backend.Description.VendorName,
        ["driver_version"] = backend.Description.DriverVersion,
        ["storage_protocol"] = backend.Description.StorageProtocol,
        ["QoS_support"] = false,
        ["multiattach"] = true,
        ["thin_provisioning_support"] = true,
        ["thick_provisioning_support"] = false,
        ["replication_enabled"] = false,
        ["reserved_percentage"] = 0,
    };

    /// <summary>
    /// Why the scheduler has no backend for a volume of <paramref name="type"/>, or null when it has one: the volume
    /// service is disabled or frozen, or an extra spec (unscoped or "capabilities:") names a capability the backend reports
    /// with another value. Extra specs of other scopes, and capabilities Ember does not report, are not judged.
    /// </summary>
    public async Task<string?> NoBackendReasonAsync(VolumeTypeRow type)
    {
        var state = await ServiceStateAsync(VolumeBinary, VolumeServiceHost);
        if (state.Disabled || state.Frozen)
        {
            return $"The volume service of {VolumeServiceHost} is {(state.Disabled ? "disabled" : "frozen")}.";
        }

        var capabilities = StaticCapabilities;
        foreach (var (key, wanted) in SpecsOf(type))
        {
            var name = key.StartsWith("capabilities:", StringComparison.Ordinal) ? key["capabilities:".Length..] : key;
            if (name.Contains(':', StringComparison.Ordinal) || !capabilities.TryGetValue(name, out var reported))
            {
                continue;
            }

            if (!ExtraSpecMatches(reported, wanted))
            {
                return $"The backend's {name} does not match the volume type's extra spec {key}.";
            }
        }

        return null;
    }

    /// <summary>Cinder's extra_specs_ops.match: a plain value is compared as a string, else the operator decides.</summary>
    public static bool ExtraSpecMatches(object reported, string wanted)
    {
        var text = reported switch
        {
            bool flag => flag ? "True" : "False",
            IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
            _ => reported.ToString() ?? "",
        };
        var words = wanted.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
        {
            return text == wanted;
        }

        var op = words[0];
        var operand = words.Length > 1 ? words[1] : null;
        return op switch
        {
            "<or>" => words.Where((_, i) => i % 2 == 1).Contains(text, StringComparer.Ordinal),
            "<is>" => operand is not null && Json.ParseBoolean(operand) is { } b && reported is bool flag2 && flag2 == b,
            "<in>" => operand is not null && text.Contains(operand, StringComparison.Ordinal),
            "s==" => operand == text,
            "s!=" => operand is not null && operand != text,
            "=" or ">=" => Compare(text, operand) >= 0,
            "<=" => Compare(text, operand) is <= 0 and not int.MinValue,
            "==" => Compare(text, operand) == 0,
            "!=" => Compare(text, operand) is not 0 and not int.MinValue,
            _ => text == wanted,
        };
    }

    /// <summary>The numeric comparison of Cinder's float operators; int.MinValue when either side is not a number.</summary>
    private static int Compare(string reported, string? operand) =>
        operand is not null && double.TryParse(reported, NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
            && double.TryParse(operand, NumberStyles.Float, CultureInfo.InvariantCulture, out var y)
            ? x.CompareTo(y)
            : int.MinValue;
}
