using Ember.Server.Common;

namespace Ember.Server.Network;

// Floating IPs: an address of an external network, DNATed by a router to a port's fixed IP.
public sealed partial class NetworkService
{
    public const string FloatingIpActive = "ACTIVE";

    private static async Task<FloatingIpRow> OwnFloatingIpAsync(NetworkStore.Session s, RequestContext ctx, string id) =>
        await s.FloatingIpAsync(id) is { } floating && Owns(ctx, floating.ProjectId) ? floating : throw NetworkErrors.FloatingIpNotFound(id);

    public async Task<List<FloatingIpRow>> ListFloatingIpsAsync(RequestContext ctx, CancellationToken cancellationToken) =>
        await store.ReadAsync(s => s.FloatingIpsAsync(ctx.IsCloudAdmin ? null : ctx.RequireProject()), cancellationToken);

    public async Task<FloatingIpRow> GetFloatingIpAsync(RequestContext ctx, string id, CancellationToken cancellationToken) =>
        await store.ReadAsync(s => OwnFloatingIpAsync(s, ctx, id), cancellationToken);

    public async Task<FloatingIpRow> CreateFloatingIpAsync(RequestContext ctx, FloatingIpCreate request, CancellationToken cancellationToken)
    {
        var projectId = ProjectFor(ctx, request.ProjectId, "create_floatingip");
        var now = Ids.Now();
        var floating = new FloatingIpRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            FloatingNetworkId = request.FloatingNetworkId,
            Description = request.Description,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await using (var s = await store.BeginAsync(cancellationToken, QuotaLock(projectId), NetworkLock(request.FloatingNetworkId)))
        {
            var network = await VisibleNetworkAsync(s, ctx, request.FloatingNetworkId);
            if (!network.External)
            {
                throw NetworkErrors.BadFloatingIpRequest($"Network {network.Id} is not a valid external network");
            }

            await CheckQuotaAsync(projectId, "floatingip", await s.CountFloatingIpsAsync(projectId));
            IReadOnlyList<IpRequest>? wanted = request.FloatingIpAddress is not null || request.SubnetId is not null
                ? [new IpRequest(request.SubnetId, request.FloatingIpAddress)]
                : null;
            var port = await CreateServicePortAsync(s, network, projectId, FloatingIpOwner, floating.Id, wanted);
            var address = (await s.PortIpsAsync([port.Id])).FirstOrDefault()
                ?? throw NetworkErrors.BadFloatingIpRequest($"No subnet is available on external network {network.Id}");
            floating.FloatingPortId = port.Id;
            floating.FloatingIpAddress = address.IpAddress;
            if (request.PortId is { } portId)
            {
                await AssociateAsync(s, ctx, floating, portId, request.FixedIpAddress);
            }

            await s.InsertFloatingIpAsync(floating);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(floating.FloatingNetworkId, cancellationToken));
        return floating;
    }

    /// <summary>Associates with <paramref name="portId"/> (its <paramref name="fixedIp"/>, or its first address), or disassociates when null.</summary>
    public async Task<FloatingIpRow> UpdateFloatingIpAsync(RequestContext ctx, string id, bool portGiven, string? portId, string? fixedIp, string? description,
        CancellationToken cancellationToken)
    {
        var before = await store.ReadAsync(peek => OwnFloatingIpAsync(peek, ctx, id), cancellationToken);
        FloatingIpRow floating;
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(before.FloatingNetworkId)))
        {
            floating = await OwnFloatingIpAsync(s, ctx, id);
            floating.Description = description ?? floating.Description;
            if (portGiven)
            {
                floating.PortId = null;
                floating.FixedIpAddress = null;
                floating.RouterId = null;
                floating.Status = PortDown;
                if (portId is not null)
                {
                    await AssociateAsync(s, ctx, floating, portId, fixedIp);
                }
            }

            floating.UpdatedAt = Ids.Now();
            await s.UpdateFloatingIpAsync(floating);
            floating.RevisionNumber++;
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(floating.FloatingNetworkId, cancellationToken));
        return floating;
    }

    public async Task DeleteFloatingIpAsync(RequestContext ctx, string id, CancellationToken cancellationToken)
    {
        var before = await store.ReadAsync(peek => OwnFloatingIpAsync(peek, ctx, id), cancellationToken);
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(before.FloatingNetworkId)))
        {
            var floating = await OwnFloatingIpAsync(s, ctx, id);
            await s.DeleteFloatingIpAsync(floating.Id);
            await s.DeletePortAsync(floating.FloatingPortId);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.PortDeletedAsync(before.FloatingPortId, before.FloatingNetworkId, cancellationToken));
    }

    /// <summary>
    /// The port's fixed IP (the one asked for, else its first) through the router that has an interface on that
    /// address's subnet and its gateway on the floating IP's network, as Neutron finds it; a fixed IP has at most one
    /// floating IP per external network.
    /// </summary>
    private static async Task AssociateAsync(NetworkStore.Session s, RequestContext ctx, FloatingIpRow floating, string portId, string? fixedIp)
    {
        var port = await s.PortAsync(portId) is { } p && Owns(ctx, p.ProjectId) && (ctx.IsCloudAdmin || p.ProjectId == floating.ProjectId)
            ? p
            : throw NetworkErrors.PortNotFound(portId);
        if (port.DeviceOwner.StartsWith("network:", StringComparison.Ordinal))
        {
            throw NetworkErrors.BadFloatingIpRequest($"Port {port.Id} has owner {port.DeviceOwner} and therefore cannot be assigned to a floating IP");
        }

        var ips = await s.PortIpsAsync([port.Id]);
        var ip = fixedIp is null
            ? ips.FirstOrDefault() ?? throw NetworkErrors.BadFloatingIpRequest($"Port {port.Id} does not have any IP addresses")
            : ips.FirstOrDefault(i => i.IpAddress == fixedIp) ?? throw NetworkErrors.BadFloatingIpRequest($"Port {port.Id} does not have fixed ip {Limits.Text(fixedIp, "fixed_ip_address")}");

        var routerId = await RouterBetweenAsync(s, ip.SubnetId, floating.FloatingNetworkId)
            ?? throw NetworkErrors.ExternalNotReachable(floating.FloatingNetworkId, ip.SubnetId, port.Id);
        var other = (await s.FloatingIpsOfPortAsync(port.Id))
            .FirstOrDefault(f => f.Id != floating.Id && f.FixedIpAddress == ip.IpAddress && f.FloatingNetworkId == floating.FloatingNetworkId);
        if (other is not null)
        {
            throw NetworkErrors.FloatingIpPortAlreadyAssociated(floating.Id, floating.FloatingIpAddress, port.Id, ip.IpAddress, floating.FloatingNetworkId);
        }

        floating.PortId = port.Id;
        floating.FixedIpAddress = ip.IpAddress;
        floating.RouterId = routerId;
        floating.Status = FloatingIpActive;
    }

    /// <summary>The router with an interface on <paramref name="subnetId"/> and its gateway on <paramref name="externalNetworkId"/>.</summary>
    private static async Task<string?> RouterBetweenAsync(NetworkStore.Session s, string subnetId, string externalNetworkId)
    {
        var interfaces = await s.AllRouterInterfacesAsync();
        var onSubnet = (await s.PortIpsAsync([.. interfaces.Select(p => p.Id)])).Where(ip => ip.SubnetId == subnetId).Select(ip => ip.PortId).ToHashSet(StringComparer.Ordinal);
        foreach (var routerId in interfaces.Where(p => onSubnet.Contains(p.Id)).Select(p => p.DeviceId).Distinct())
        {
            if (await s.RouterAsync(routerId) is { } router && router.GatewayNetworkId == externalNetworkId)
            {
                return router.Id;
            }
        }

        return null;
    }
}
