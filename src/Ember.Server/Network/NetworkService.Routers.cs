using Ember.Server.Common;

namespace Ember.Server.Network;

// Routers (Neutron L3): the gateway on an external network, interfaces holding their subnets' gateway addresses.
public sealed partial class NetworkService
{
    public const string RouterInterfaceOwner = "network:router_interface";
    public const string RouterGatewayOwner = "network:router_gateway";
    public const string FloatingIpOwner = "network:floatingip";

    private static string RouterLock(string routerId) => "router:" + routerId;

    private static async Task<RouterRow> OwnRouterAsync(NetworkStore.Session s, RequestContext ctx, string id) =>
        await s.RouterAsync(id) is { } router && Owns(ctx, router.ProjectId) ? router : throw NetworkErrors.RouterNotFound(id);

    private static async Task<RouterView> RouterViewAsync(NetworkStore.Session s, RouterRow router) =>
        new(router, router.GatewayPortId is { } gw ? await s.PortIpsAsync([gw]) : []);

    public async Task<List<RouterView>> ListRoutersAsync(RequestContext ctx, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var routers = await s.RoutersAsync(ctx.IsCloudAdmin ? null : ctx.RequireProject());
            var result = new List<RouterView>();
            foreach (var router in routers)
            {
                result.Add(await RouterViewAsync(s, router));
            }

            return result;
        }, cancellationToken);

    public async Task<RouterView> GetRouterAsync(RequestContext ctx, string id, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => await RouterViewAsync(s, await OwnRouterAsync(s, ctx, id)), cancellationToken);

    public async Task<RouterView> CreateRouterAsync(RequestContext ctx, RouterCreate request, CancellationToken cancellationToken)
    {
        var projectId = ProjectFor(ctx, request.ProjectId, "create_router");
        var now = Ids.Now();
        var router = new RouterRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            Name = request.Name,
            Description = request.Description,
            AdminStateUp = request.AdminStateUp ?? true,
            EnableSnat = request.Gateway?.EnableSnat ?? true,
            CreatedAt = now,
            UpdatedAt = now,
        };
        RouterView view;
        var locks = request.Gateway is { } asked ? new[] { QuotaLock(projectId), NetworkLock(asked.NetworkId) } : [QuotaLock(projectId)];
        await using (var s = await store.BeginAsync(cancellationToken, locks))
        {
            await CheckQuotaAsync(projectId, "router", await s.CountRoutersAsync(projectId));
            if (request.Gateway is { } gateway)
            {
                await SetGatewayAsync(s, ctx, router, gateway);
            }

            await s.InsertRouterAsync(router);
            view = await RouterViewAsync(s, router);
            await s.CommitAsync(cancellationToken);
        }

        if (router.GatewayNetworkId is { } external)
        {
            await NotifyAsync(c => c.NetworkChangedAsync(external, cancellationToken));
        }

        return view;
    }

    public async Task<RouterView> UpdateRouterAsync(RequestContext ctx, string id, RouterUpdate update, CancellationToken cancellationToken)
    {
        var before = await store.ReadAsync(peek => OwnRouterAsync(peek, ctx, id), cancellationToken);
        // The gateway's port is made or deleted on the external network: its lock, then the router's.
        var locks = new List<string>();
        if (update.GatewayGiven && before.GatewayNetworkId is { } old)
        {
            locks.Add(NetworkLock(old));
        }

        if (update.Gateway is { } asked && asked.NetworkId != before.GatewayNetworkId)
        {
            locks.Add(NetworkLock(asked.NetworkId));
        }

        locks.Sort(StringComparer.Ordinal);
        locks.Add(RouterLock(id));
        RouterView view;
        await using (var s = await store.BeginAsync(cancellationToken, [.. locks]))
        {
            var router = await OwnRouterAsync(s, ctx, id);
            router.Name = update.Name ?? router.Name;
            router.Description = update.Description ?? router.Description;
            router.AdminStateUp = update.AdminStateUp ?? router.AdminStateUp;
            if (update.GatewayGiven)
            {
                var keep = update.Gateway is { } g && g.NetworkId == router.GatewayNetworkId && g.ExternalFixedIps is null;
                if (keep)
                {
                    router.EnableSnat = update.Gateway!.EnableSnat ?? router.EnableSnat;
                }
                else
                {
                    if (router.GatewayNetworkId is { } current && (await s.FloatingIpsOfRouterAsync(router.Id)).Count > 0)
                    {
                        throw NetworkErrors.GatewayInUseByFloatingIp(router.Id, current);
                    }

                    await ClearGatewayAsync(s, router);
                    if (update.Gateway is { } gateway)
                    {
                        await SetGatewayAsync(s, ctx, router, gateway);
                    }
                }
            }

            router.UpdatedAt = Ids.Now();
            await s.UpdateRouterAsync(router);
            router.RevisionNumber++;
            view = await RouterViewAsync(s, router);
            await s.CommitAsync(cancellationToken);
        }

        foreach (var network in new[] { before.GatewayNetworkId, view.Router.GatewayNetworkId }.OfType<string>().Distinct())
        {
            await NotifyAsync(c => c.NetworkChangedAsync(network, cancellationToken));
        }

        return view;
    }

    /// <summary>Refused (RouterInUse) while the router has interfaces or floating IPs; its gateway port goes with it.</summary>
    public async Task DeleteRouterAsync(RequestContext ctx, string id, CancellationToken cancellationToken)
    {
        var before = await store.ReadAsync(peek => OwnRouterAsync(peek, ctx, id), cancellationToken);
        var locks = before.GatewayNetworkId is { } external ? new[] { NetworkLock(external), RouterLock(id) } : [RouterLock(id)];
        await using (var s = await store.BeginAsync(cancellationToken, locks))
        {
            var router = await OwnRouterAsync(s, ctx, id);
            if ((await s.RouterPortsAsync(id, RouterInterfaceOwner)).Count > 0)
            {
                throw NetworkErrors.RouterInUse(id, "still has ports");
            }

            if ((await s.FloatingIpsOfRouterAsync(id)).Count > 0)
            {
                throw NetworkErrors.RouterInUse(id, "still has floating IPs");
            }

            await ClearGatewayAsync(s, router);
            await s.DeleteRouterAsync(id);
            await s.CommitAsync(cancellationToken);
        }

        if (before.GatewayNetworkId is { } network)
        {
            await NotifyAsync(c => c.NetworkChangedAsync(network, cancellationToken));
        }
    }

    /// <summary>The router's gateway port on an external network, with the addresses asked for or the first free one.</summary>
    private async Task SetGatewayAsync(NetworkStore.Session s, RequestContext ctx, RouterRow router, GatewayInfo gateway)
    {
        var network = await VisibleNetworkAsync(s, ctx, gateway.NetworkId);
        if (!network.External)
        {
            throw NetworkErrors.BadRouterRequest($"Network {network.Id} is not an external network");
        }

        var port = await CreateServicePortAsync(s, network, router.ProjectId, RouterGatewayOwner, router.Id, gateway.ExternalFixedIps);
        if ((await s.PortIpsAsync([port.Id])).Count == 0)
        {
            throw NetworkErrors.BadRouterRequest($"No subnet is available on external network {network.Id}");
        }

        router.GatewayNetworkId = network.Id;
        router.GatewayPortId = port.Id;
        router.EnableSnat = gateway.EnableSnat ?? true;
    }

    private static async Task ClearGatewayAsync(NetworkStore.Session s, RouterRow router)
    {
        if (router.GatewayPortId is { } port)
        {
            await s.DeletePortAsync(port);
        }

        router.GatewayNetworkId = null;
        router.GatewayPortId = null;
    }

    /// <summary>A port the network service owns (router gateway or interface, floating IP): no security groups, ACTIVE.</summary>
    private async Task<PortRow> CreateServicePortAsync(NetworkStore.Session s, NetworkRow network, string projectId, string owner, string deviceId, IReadOnlyList<IpRequest>? ips)
    {
        var now = Ids.Now();
        var port = new PortRow
        {
            Id = Ids.NewUuid(),
            NetworkId = network.Id,
            ProjectId = projectId,
            MacAddress = await NewMacAsync(s, network.Id),
            Status = PortActive,
            DeviceOwner = owner,
            DeviceId = deviceId,
            PortSecurityEnabled = false,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await s.InsertPortAsync(port);
        if (ips is not [])
        {
            await AllocateAsync(s, network.Id, port.Id, ips);
        }

        return port;
    }

    // Interfaces.

    /// <summary>
    /// Attaches the router to a subnet: a new port holding the subnet's gateway address (by subnet), or the project's
    /// free port (by port). One interface per subnet and router; a subnet whose gateway another router holds is a 409.
    /// </summary>
    public async Task<RouterInterfaceInfo> AddRouterInterfaceAsync(RequestContext ctx, string routerId, string? subnetId, string? portId, CancellationToken cancellationToken)
    {
        if ((subnetId is null) == (portId is null))
        {
            throw NetworkErrors.BadRouterRequest("Either subnet_id or port_id must be specified");
        }

        await store.ReadAsync(peek => OwnRouterAsync(peek, ctx, routerId), cancellationToken);
        var networkId = subnetId is not null
            ? (await store.ReadAsync(peek => VisibleSubnetAsync(peek, ctx, subnetId), cancellationToken)).NetworkId
            : (await store.ReadAsync(peek => OwnPortAsync(peek, ctx, portId!), cancellationToken)).NetworkId;
        RouterInterfaceInfo info;
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(networkId), RouterLock(routerId)))
        {
            var router = await OwnRouterAsync(s, ctx, routerId);
            var existing = await s.RouterPortsAsync(routerId, RouterInterfaceOwner);
            var existingIps = await s.PortIpsAsync([.. existing.Select(p => p.Id)]);
            var existingSubnets = new List<SubnetRow>();
            foreach (var id in existingIps.Select(ip => ip.SubnetId).Distinct())
            {
                existingSubnets.Add((await s.SubnetAsync(id))!);
            }

            PortRow port;
            List<PortIpRow> ips;
            if (subnetId is not null)
            {
                var subnet = await VisibleSubnetAsync(s, ctx, subnetId);
                if (!Owns(ctx, subnet.ProjectId) && !Owns(ctx, router.ProjectId))
                {
                    throw NetworkErrors.SubnetNotFound(subnetId);
                }

                if (subnet.GatewayIp is not { } gateway)
                {
                    throw NetworkErrors.BadRouterRequest($"Subnet {subnet.Id} does not have a gateway IP");
                }

                CheckNewInterfaceSubnets(existingSubnets, [subnet]);
                if ((await s.UsedAddressesAsync(subnet.Id)).Contains(Ipv4.Parse(gateway)!.Value))
                {
                    throw NetworkErrors.IpAddressAlreadyAllocated(gateway, subnet.Id);
                }

                var network = (await s.NetworkAsync(subnet.NetworkId))!;
                port = await CreateServicePortAsync(s, network, router.ProjectId, RouterInterfaceOwner, router.Id, []);
                await s.InsertPortIpAsync(new PortIpRow { PortId = port.Id, SubnetId = subnet.Id, NetworkId = network.Id, IpAddress = gateway, Position = 0 });
                ips = await s.PortIpsAsync([port.Id]);
            }
            else
            {
                port = await OwnPortAsync(s, ctx, portId!);
                if (port.DeviceId.Length > 0 || port.DeviceOwner.Length > 0)
                {
                    throw NetworkErrors.PortInUse(port.NetworkId, port.Id, port.DeviceId.Length > 0 ? port.DeviceId : port.DeviceOwner);
                }

                ips = await s.PortIpsAsync([port.Id]);
                if (ips.Count == 0)
                {
                    throw NetworkErrors.BadRouterRequest($"Router port {port.Id} must have at least one fixed IP");
                }

                var subnets = new List<SubnetRow>();
                foreach (var ip in ips)
                {
                    subnets.Add((await s.SubnetAsync(ip.SubnetId))!);
                }

                CheckNewInterfaceSubnets(existingSubnets, subnets);
                port.DeviceOwner = RouterInterfaceOwner;
                port.DeviceId = router.Id;
                port.Status = PortActive;
                port.UpdatedAt = Ids.Now();
                await s.UpdatePortAsync(port);
                // The router's port is the network's own: no filter of a VM port applies to it.
                await s.SetPortGroupsAsync(port.Id, []);
            }

            info = new RouterInterfaceInfo(router.Id, router.ProjectId, port.Id, ips[0].SubnetId, [.. ips.Select(ip => ip.SubnetId)], port.NetworkId);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(info.NetworkId, cancellationToken));
        return info;
    }

    /// <summary>Neutron's checks: no second interface on a subnet, no subnet overlapping one the router has.</summary>
    private static void CheckNewInterfaceSubnets(List<SubnetRow> existing, List<SubnetRow> adding)
    {
        foreach (var subnet in adding)
        {
            if (existing.Any(e => e.Id == subnet.Id))
            {
                throw NetworkErrors.BadRouterRequest($"Router already has a port on subnet {subnet.Id}");
            }

            if (existing.FirstOrDefault(e => ParseStored(e.Cidr).Overlaps(ParseStored(subnet.Cidr))) is { } other)
            {
                throw NetworkErrors.BadRouterRequest($"Cidr {subnet.Cidr} of subnet {subnet.Id} overlaps with cidr {other.Cidr} of subnet {other.Id}");
            }
        }
    }

    /// <summary>Detaches the router from a subnet or port: the interface port is deleted (refused while a floating IP needs it).</summary>
    public async Task<RouterInterfaceInfo> RemoveRouterInterfaceAsync(RequestContext ctx, string routerId, string? subnetId, string? portId, CancellationToken cancellationToken)
    {
        if (subnetId is null && portId is null)
        {
            throw NetworkErrors.BadRouterRequest("Either subnet_id or port_id must be specified");
        }

        var interfaces = await store.ReadAsync(async peek =>
        {
            await OwnRouterAsync(peek, ctx, routerId);
            return await peek.RouterPortsAsync(routerId, RouterInterfaceOwner);
        }, cancellationToken);
        var ipsOf = (await store.ReadAsync(peek => peek.PortIpsAsync([.. interfaces.Select(p => p.Id)]), cancellationToken)).ToLookup(ip => ip.PortId, StringComparer.Ordinal);
        var port = portId is not null
            ? interfaces.FirstOrDefault(p => p.Id == portId) ?? throw NetworkErrors.RouterInterfaceNotFound(routerId, portId)
            : interfaces.FirstOrDefault(p => ipsOf[p.Id].Any(ip => ip.SubnetId == subnetId)) ?? throw NetworkErrors.RouterInterfaceNotFoundForSubnet(routerId, subnetId!);
        if (subnetId is not null && !ipsOf[port.Id].Any(ip => ip.SubnetId == subnetId))
        {
            throw NetworkErrors.RouterInterfaceNotFoundForSubnet(routerId, subnetId);
        }

        RouterInterfaceInfo info;
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(port.NetworkId), RouterLock(routerId)))
        {
            var router = await OwnRouterAsync(s, ctx, routerId);
            var ips = await s.PortIpsAsync([port.Id]);
            if (ips.Count == 0 || await s.PortAsync(port.Id) is not { DeviceOwner: RouterInterfaceOwner } current || current.DeviceId != routerId)
            {
                throw NetworkErrors.RouterInterfaceNotFound(routerId, port.Id);
            }

            // A floating IP of a port on this interface's subnets reaches it through this interface.
            var fixedIps = new HashSet<string>(StringComparer.Ordinal);
            foreach (var floating in await s.FloatingIpsOfRouterAsync(routerId))
            {
                fixedIps.Add(floating.FixedIpAddress ?? "");
            }

            foreach (var ip in ips)
            {
                var cidr = ParseStored((await s.SubnetAsync(ip.SubnetId))!.Cidr);
                if (fixedIps.Any(f => Ipv4.Parse(f) is { } a && cidr.Contains(a)))
                {
                    throw NetworkErrors.RouterInterfaceInUseByFloatingIp(routerId, ip.SubnetId);
                }
            }

            await s.DeletePortAsync(port.Id);
            info = new RouterInterfaceInfo(router.Id, router.ProjectId, port.Id, ips[0].SubnetId, [.. ips.Select(ip => ip.SubnetId)], port.NetworkId);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.PortDeletedAsync(info.PortId, info.NetworkId, cancellationToken));
        return info;
    }
}
