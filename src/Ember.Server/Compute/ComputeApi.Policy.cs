using Ember.Server.Common;

namespace Ember.Server.Compute;

public static partial class ComputeApi
{
    /// <summary>Nova's policy names and defaults for the volume proxies, extensions, server password, external events, diagnostics and deferred delete.</summary>
    internal static readonly KeyValuePair<string, PolicyRule>[] ProxyAndEventPolicy =
    [
        new("os_compute_api:os-volumes:list", PolicyRule.Reader),
        new("os_compute_api:os-volumes:detail", PolicyRule.Reader),
        new("os_compute_api:os-volumes:show", PolicyRule.Reader),
        new("os_compute_api:os-volumes:create", PolicyRule.Member),
        new("os_compute_api:os-volumes:delete", PolicyRule.Member),
        new("os_compute_api:os-volumes:snapshots:list", PolicyRule.Reader),
        new("os_compute_api:os-volumes:snapshots:detail", PolicyRule.Reader),
        new("os_compute_api:os-volumes:snapshots:show", PolicyRule.Reader),
        new("os_compute_api:os-volumes:snapshots:create", PolicyRule.Member),
        new("os_compute_api:os-volumes:snapshots:delete", PolicyRule.Member),
        new("os_compute_api:extensions", PolicyRule.Reader),
        new("os_compute_api:os-server-password:show", PolicyRule.Reader),
        new("os_compute_api:os-server-password:clear", PolicyRule.Member),
        new("os_compute_api:os-server-external-events:create", PolicyRule.Admin),
        new("os_compute_api:os-server-diagnostics", PolicyRule.Admin),
        new("os_compute_api:os-deferred-delete:restore", PolicyRule.Member),
        new("os_compute_api:os-deferred-delete:force", PolicyRule.Member),
    ];
}
