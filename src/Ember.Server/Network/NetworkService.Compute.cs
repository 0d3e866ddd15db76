using System.Text.Json;
using Ember.Server.Common;

namespace Ember.Server.Network;

/// <summary>A server's port as compute needs it to plug a NIC.</summary>
public sealed record ServerPort(string PortId, string NetworkId, string MacAddress, IReadOnlyList<ServerFixedIp> FixedIps, int Mtu, string BindingHostId, bool CreatedForServer);

public sealed record ServerFixedIp(string SubnetId, string IpAddress);

/// <summary>What a DHCP server for one network needs: its subnets and every port's MAC, addresses and host name.</summary>
public sealed record DhcpView(string NetworkId, int Mtu, bool AdminStateUp, IReadOnlyList<DhcpSubnet> Subnets, IReadOnlyList<DhcpHost> Hosts);

/// <summary>A DHCP-enabled subnet; <see cref="DhcpIp"/> is the DHCP port's address on it.</summary>
public sealed record DhcpSubnet(string SubnetId, string Cidr, string? GatewayIp, IReadOnlyList<string> DnsNameservers, IReadOnlyList<HostRouteText> HostRoutes, string? DhcpIp, int Mtu);

/// <summary>One port's lease: Neutron's dnsmasq host name is host-a-b-c-d.</summary>
public sealed record DhcpHost(string PortId, string MacAddress, string IpAddress, string SubnetId, string Hostname, string DeviceOwner);

// The in-process surface compute calls (as Nova calls Neutron with the user's project).
public sealed partial class NetworkService
{
    public const string AutoNetworkName = "auto_allocated_network";
    public const string AutoSubnetName = "auto_allocated_subnet";

    /// <summary>The project's member, as Nova acts for the user who boots the server.</summary>
    private static RequestContext MemberOf(string projectId) => new("nova", "nova", "default", projectId, null, ["member"], DateTime.MaxValue);

    private static ServerPort ToServerPort(PortView view, int mtu) => new(view.Port.Id, view.Port.NetworkId, view.Port.MacAddress,
        [.. view.FixedIps.Select(ip => new ServerFixedIp(ip.SubnetId, ip.IpAddress))], mtu, view.Port.BindingHostId, view.Port.CreatedForServer);

    /// <summary>
    /// A port for a server: a new one on <paramref name="networkId"/> (deleted with the server), or the existing
    /// <paramref name="portId"/> of the project, which must not be attached to another device (only unbound later).
    /// Either way device_owner compute:nova, device_id the server, bound to <paramref name="host"/>. A new port gets
    /// <paramref name="fixedIp"/> when one is asked for (Nova's networks[].fixed_ip) and <paramref name="securityGroups"/>
    /// (ids; null: the project's default group). <paramref name="tag"/> is Nova's device tag of the interface (null: none).
    /// </summary>
    public async Task<ServerPort> CreatePortForServerAsync(string projectId, string? networkId, string? portId, string? fixedIp, string serverId, string host,
        CancellationToken cancellationToken, IReadOnlyList<string>? securityGroups = null, string? tag = null)
    {
        var ctx = MemberOf(projectId);
        PortView view;
        if (portId is null)
        {
            var id = networkId ?? throw new ArgumentException("A network or a port is needed.", nameof(networkId));
            view = await CreatePortAsync(ctx, new PortCreate(id, null, "", "", null, null, fixedIp is null ? null : [new IpRequest(null, fixedIp)],
                ComputeOwner, serverId, securityGroups, null, null, host, CreatedForServer: true, DeviceTag: tag), cancellationToken);
        }
        else
        {
            var existing = await GetPortAsync(ctx, portId, cancellationToken);
            if (existing.Port.DeviceId.Length > 0 && existing.Port.DeviceId != serverId)
            {
                throw NetworkErrors.PortInUse(existing.Port.NetworkId, portId, existing.Port.DeviceId);
            }

            view = await UpdatePortAsync(ctx, portId, new PortUpdate(null, null, null, null, null, ComputeOwner, serverId, null, null, null, host, tag), cancellationToken);
        }

        var network = await store.ReadAsync(s => s.NetworkAsync(view.Port.NetworkId), cancellationToken);
        return ToServerPort(view, network!.Mtu);
    }

    public async Task<List<ServerPort>> ListServerPortsAsync(string serverId, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var ports = await PortViewsAsync(s, await s.ServerPortsAsync([serverId]));
            var result = new List<ServerPort>();
            foreach (var port in ports)
            {
                result.Add(ToServerPort(port, (await s.NetworkAsync(port.Port.NetworkId))!.Mtu));
            }

            return result;
        }, cancellationToken);

    /// <summary>The server's ports as the network service shows them (status, addresses with their subnets), in guest order.</summary>
    public async Task<List<PortView>> ServerPortViewsAsync(string serverId, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => await PortViewsAsync(s, await s.ServerPortsAsync([serverId])), cancellationToken);

    /// <summary>Ports made for the server are deleted; ports it was given are unbound and kept, as Nova does.</summary>
    /// <returns>The ports the server held, so that its host can unplug them without reading them again.</returns>
    public async Task<List<PortRow>> DeleteServerPortsAsync(string serverId, CancellationToken cancellationToken)
    {
        var ports = await store.ReadAsync(s => s.ServerPortsAsync([serverId]), cancellationToken);
        foreach (var port in ports)
        {
            await ReleaseServerPortAsync(port, cancellationToken);
        }

        return ports;
    }

    /// <summary>
    /// One interface of the server leaves it (os-interface detach): deleted when it was made for the server (Nova's
    /// "add network"), else unbound and kept (a port the user gave). Null when the server has no such port.
    /// </summary>
    public async Task<PortRow?> ReleaseServerPortAsync(string serverId, string portId, CancellationToken cancellationToken)
    {
        var port = (await store.ReadAsync(s => s.ServerPortsAsync([serverId]), cancellationToken)).FirstOrDefault(p => p.Id == portId);
        if (port is not null)
        {
            await ReleaseServerPortAsync(port, cancellationToken);
        }

        return port;
    }

    private async Task ReleaseServerPortAsync(PortRow port, CancellationToken cancellationToken)
    {
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(port.NetworkId)))
        {
            if (port.CreatedForServer)
            {
                await s.DeletePortAsync(port.Id);
            }
            else
            {
                port.DeviceId = "";
                port.DeviceOwner = "";
                port.BindingHostId = "";
                port.DeviceTag = null;
                port.Status = PortDown;
                port.UpdatedAt = Ids.Now();
                await s.UpdatePortAsync(port);
            }

            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => port.CreatedForServer ? c.PortDeletedAsync(port.Id, port.NetworkId, cancellationToken) : c.NetworkChangedAsync(port.NetworkId, cancellationToken));
    }

    /// <summary>The network as a DHCP server sees it; null when it is gone.</summary>
    public async Task<DhcpView?> GetDhcpViewAsync(string networkId, CancellationToken cancellationToken) =>
        await store.ReadAsync<DhcpView?>(async s =>
        {
            if (await s.NetworkAsync(networkId) is not { } network)
            {
                return null;
            }

            var subnets = await s.SubnetsOfAsync(networkId);
            var ports = await PortViewsAsync(s, await s.PortsAsync(null, networkId));
            var dhcpPort = ports.FirstOrDefault(p => p.Port.DeviceOwner == DhcpOwner);
            var dhcpSubnets = subnets.Where(x => x.EnableDhcp).Select(x => new DhcpSubnet(
                x.Id, x.Cidr, x.GatewayIp,
                JsonSerializer.Deserialize(x.DnsNameservers, NetworkStoredJson.Default.ListString)!,
                JsonSerializer.Deserialize(x.HostRoutes, NetworkStoredJson.Default.ListHostRouteText)!,
                dhcpPort?.FixedIps.FirstOrDefault(ip => ip.SubnetId == x.Id)?.IpAddress,
                network.Mtu)).ToList();
            var hosts = ports.SelectMany(p => p.FixedIps.Select(ip => new DhcpHost(
                p.Port.Id, p.Port.MacAddress, ip.IpAddress, ip.SubnetId, "host-" + ip.IpAddress.Replace('.', '-'), p.Port.DeviceOwner))).ToList();
            return new DhcpView(network.Id, network.Mtu, network.AdminStateUp, dhcpSubnets, hosts);
        }, cancellationToken);

    /// <summary>
    /// Nova's "networks: auto": the project's auto-allocated network, made on first use with one subnet, the first
    /// block of Network:AutoAllocationPrefixLength in Network:AutoAllocationCidr that no other auto-allocated subnet holds.
    /// </summary>
    public async Task<string> GetOrCreateAutoNetworkAsync(string projectId, CancellationToken cancellationToken)
    {
        if (await store.ReadAsync(s => s.AutoNetworkAsync(projectId), cancellationToken) is { } existing)
        {
            return existing.Id;
        }

        await using var s = await store.BeginAsync(cancellationToken, QuotaLock(projectId), "network-auto-allocation", VniLock);
        if (await s.AutoNetworkAsync(projectId) is { } raced)
        {
            return raced.Id;
        }

        var taken = (await s.AllCidrsOfAutoNetworksAsync()).Select(ParseStored).ToList();
        Ipv4Cidr.TryParse(options.Value.AutoAllocationCidr, out var pool, out _);
        var prefix = options.Value.AutoAllocationPrefixLength;
        var blockSize = 1UL << (32 - prefix);
        Ipv4Cidr? free = null;
        for (ulong start = pool.Network; start + blockSize - 1 <= pool.Last; start += blockSize)
        {
            var block = new Ipv4Cidr((uint)start, prefix);
            if (!taken.Any(t => t.Overlaps(block)))
            {
                free = block;
                break;
            }
        }

        var cidr = free ?? throw new ApiException(ErrorKind.Conflict, $"No free /{prefix} is left in {pool} for an auto-allocated network.") { Type = "AutoAllocationFailure" };
        await CheckQuotaAsync(projectId, "network", await s.CountNetworksAsync(projectId));
        await CheckQuotaAsync(projectId, "subnet", await s.CountSubnetsAsync(projectId));
        var now = Ids.Now();
        var network = new NetworkRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            Name = AutoNetworkName,
            Mtu = options.Value.DefaultMtu,
            AutoAllocated = true,
            CreatedAt = now,
            UpdatedAt = now,
        };
        network.SegmentationId = await AllocateVniAsync(s, external: false);
        await s.InsertNetworkAsync(network);
        var subnet = new SubnetRow
        {
            Id = Ids.NewUuid(),
            NetworkId = network.Id,
            ProjectId = projectId,
            Name = AutoSubnetName,
            Cidr = cidr.ToString(),
            GatewayIp = Ipv4.Format(cidr.FirstHost),
            AllocationPools = PoolsText(Ipam.DefaultPools(cidr, cidr.FirstHost)),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await s.InsertSubnetAsync(subnet);
        await AddDhcpAddressAsync(s, network, subnet);
        await s.CommitAsync(cancellationToken);
        await NotifyAsync(c => c.NetworkChangedAsync(network.Id, cancellationToken));
        return network.Id;
    }
}
