using Ember.Server.Common;
using Ember.Server.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Network;

/// <summary>
/// Makes the external network of Network:External (DevStack's <c>public</c>, 172.24.4.0/24) at start when no external
/// network of that name exists: the admin project's, router:external, one subnet without DHCP. Idempotent across restarts.
/// </summary>
public sealed partial class NetworkBootstrap(NetworkService networks, IdentityStore identity, IOptions<NetworkOptions> options, ILogger<NetworkBootstrap> logger)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var external = options.Value.External;
        if (!options.Value.Enabled || external.Name.Length == 0)
        {
            return;
        }

        var admin = await identity.FindProjectAsync(null, "admin", IdentityStore.DefaultDomainId);
        var ctx = new RequestContext("ember", "ember", IdentityStore.DefaultDomainId, admin?.Id ?? "admin", null, ["admin", "member", "reader"], DateTime.MaxValue, IsAdminProject: true);
        if ((await networks.ListNetworksAsync(ctx, cancellationToken)).Any(n => n.Network.External && n.Network.Name == external.Name))
        {
            return;
        }

        var network = await networks.CreateNetworkAsync(ctx, new NetworkCreate(null, external.Name, "", true, false, true, null, null), cancellationToken);
        var pools = external.AllocationStart.Length > 0 ? new List<PoolText> { new(external.AllocationStart, external.AllocationEnd) } : null;
        var subnet = await networks.CreateSubnetAsync(ctx, new SubnetCreate(network.Network.Id, null, external.Name + "-subnet", "", external.Cidr,
            external.GatewayIp.Length > 0, external.GatewayIp.Length > 0 ? external.GatewayIp : null, pools, false, null, null), cancellationToken);
        LogCreated(logger, external.Name, network.Network.Id, subnet.Cidr);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Made the external network {Name} ({Id}, {Cidr})")]
    private static partial void LogCreated(ILogger logger, string name, string id, string cidr);
}
