namespace Ember.OpenStack;

/// <summary>The catalog types a service may be registered under, official type first (os-service-types aliases).</summary>
public static class ServiceTypes
{
    private static readonly string[][] s_groups =
    [
        ["block-storage", "volumev3", "volume", "block-store"],
        ["compute"],
        ["image"],
        ["identity"],
    ];

    /// <summary>The types to look for when <paramref name="serviceType"/> is asked for: its group, or itself alone.</summary>
    public static IReadOnlyList<string> Aliases(string serviceType) =>
        s_groups.FirstOrDefault(g => g.Contains(serviceType, StringComparer.Ordinal)) ?? [serviceType];
}
