using System.Text.Json;

namespace Ember.Compute.Qemu.Qmp;

/// <summary>An asynchronous QMP event (SHUTDOWN, DEVICE_DELETED, ...). <see cref="Data"/> is an empty object when QEMU sent none.</summary>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp)
{
    /// <summary>A string member of <see cref="Data"/>, or null.</summary>
    public string? GetString(string property) =>
        Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;
}
