using System.Text.Json;
using Ember.Server.Common;
using Ember.Server.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ember.Server.Network;

/// <summary>
/// The rules of the Neutron subset: visibility (own project, shared and external networks; everything for the cloud
/// admin), quotas, IPAM, the per-network DHCP port, security groups. Every change is one transaction; the data
/// plane hears of it through <see cref="INetworkChanges"/> after the commit.
/// </summary>
public sealed partial class NetworkService(NetworkStore store, IOptions<NetworkOptions> options, IOptions<EmberOptions> host, INetworkChanges changes, ILogger<NetworkService> logger)
{
    public const string PortDown = "DOWN";
    public const string PortActive = "ACTIVE";
    public const string DhcpOwner = "network:dhcp";
    public const string ComputeOwner = "compute:nova";
    public const int MaxDnsNameservers = 5;
    public const int MaxHostRoutes = 20;
    public const int MaxAllocationPools = 20;
    public const int MaxFixedIps = 32;

    /// <summary>Neutron's default quotas (neutron.conf [quotas]).</summary>
    public static readonly IReadOnlyDictionary<string, int> DefaultQuotas = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["network"] = 100,
        ["subnet"] = 100,
        ["port"] = 500,
        ["security_group"] = 10,
        ["security_group_rule"] = 100,
        ["router"] = 10,
        ["floatingip"] = 50,
    };

    private static string QuotaLock(string projectId) => "network-quota:" + projectId;

    /// <summary>Held while a new network takes the next VNI, so two creates never pick the same one.</summary>
    public const string VniLock = "network-vni";

    /// <summary>The largest VXLAN network identifier (24 bits).</summary>
    private const long MaxVni = (1 << 24) - 1;

    /// <summary>A VNI for a new tenant network; none for an external one (it is the host's flat segment, not tunnelled).</summary>
    private static async Task<int?> AllocateVniAsync(NetworkStore.Session s, bool external)
    {
        if (external)
        {
            return null;
        }

        var next = await s.NextSegmentationIdAsync();
        return next <= MaxVni ? (int)next : throw new ApiException(ErrorKind.Conflict, "No VXLAN network identifier is left.") { Type = "NoNetworkAvailable" };
    }

    private static string NetworkLock(string networkId) => "network:" + networkId;

    // Visibility.

    private static bool Sees(RequestContext ctx, NetworkRow n) => ctx.IsCloudAdmin || n.ProjectId == ctx.ProjectId || n.Shared || n.External;

    private static bool Owns(RequestContext ctx, string projectId) => ctx.IsCloudAdmin || projectId == ctx.ProjectId;

    /// <summary>The project a new resource belongs to: the caller's, or (admin only) the one asked for.</summary>
    private static string ProjectFor(RequestContext ctx, string? asked, string action) =>
        asked is null || asked == ctx.ProjectId ? ctx.RequireProject()
        : ctx.IsCloudAdmin ? Limits.Text(asked, "project_id")!
        : throw NetworkErrors.PolicyNotAuthorized($"rule:{action}");

    private static async Task<NetworkRow> VisibleNetworkAsync(NetworkStore.Session s, RequestContext ctx, string id) =>
        await s.NetworkAsync(id) is { } n && Sees(ctx, n) ? n : throw NetworkErrors.NetworkNotFound(id);

    private static async Task<NetworkRow> OwnNetworkAsync(NetworkStore.Session s, RequestContext ctx, string id, string action)
    {
        var network = await VisibleNetworkAsync(s, ctx, id);
        return Owns(ctx, network.ProjectId) ? network : throw NetworkErrors.PolicyNotAuthorized($"rule:{action}");
    }

    // Quotas.

    public async Task<Dictionary<string, int>> QuotaLimitsAsync(string projectId)
    {
        var limits = new Dictionary<string, int>(DefaultQuotas, StringComparer.Ordinal);
        foreach (var (resource, limit) in await QuotaRows.ReadAsync(store.Database, NetworkStore.QuotaTable, projectId))
        {
            limits[resource] = limit;
        }

        return limits;
    }

    /// <summary>The projects with limits of their own, each with all its limits (the defaults filled in).</summary>
    public async Task<List<(string ProjectId, Dictionary<string, int> Limits)>> ListQuotaLimitsAsync(CancellationToken cancellationToken)
    {
        var projects = await store.ReadAsync(s => s.QuotaProjectsAsync(), cancellationToken);
        var quotas = new List<(string, Dictionary<string, int>)>();
        foreach (var projectId in projects)
        {
            quotas.Add((projectId, await QuotaLimitsAsync(projectId)));
        }

        return quotas;
    }

    public Task SetQuotaLimitsAsync(string projectId, IReadOnlyDictionary<string, int> limits) =>
        QuotaRows.WriteAsync(store.Database, NetworkStore.QuotaTable, projectId, limits);

    /// <summary>Back to the defaults: the project's own limits are dropped.</summary>
    public async Task ResetQuotaLimitsAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var s = await store.BeginAsync(cancellationToken);
        await s.ResetQuotasAsync(projectId);
        await s.CommitAsync(cancellationToken);
    }

    public async Task<Dictionary<string, long>> QuotaUsageAsync(string projectId, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["network"] = await s.CountNetworksAsync(projectId),
            ["subnet"] = await s.CountSubnetsAsync(projectId),
            ["port"] = await s.CountPortsAsync(projectId),
            ["security_group"] = await s.CountGroupsAsync(projectId),
            ["security_group_rule"] = await s.CountRulesAsync(projectId),
            ["router"] = await s.CountRoutersAsync(projectId),
            ["floatingip"] = await s.CountFloatingIpsAsync(projectId),
        }, cancellationToken);

    /// <summary>Under the project's quota lock: one more <paramref name="resource"/> must fit (-1 is unlimited).</summary>
    private async Task CheckQuotaAsync(string projectId, string resource, long used, int adding = 1)
    {
        var limit = (await QuotaLimitsAsync(projectId))[resource];
        if (limit >= 0 && used + adding > limit)
        {
            throw NetworkErrors.OverQuota(resource);
        }
    }

    // Networks.

    public async Task<List<NetworkView>> ListNetworksAsync(RequestContext ctx, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var networks = await s.NetworksAsync(ctx.IsCloudAdmin ? null : ctx.RequireProject());
            var subnets = (await s.SubnetsAsync(null)).ToLookup(x => x.NetworkId, StringComparer.Ordinal);
            return networks.Select(n => new NetworkView(n, [.. subnets[n.Id].Select(x => x.Id)])).ToList();
        }, cancellationToken);

    public async Task<NetworkView> GetNetworkAsync(RequestContext ctx, string id, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => await ViewAsync(s, await VisibleNetworkAsync(s, ctx, id)), cancellationToken);

    private static async Task<NetworkView> ViewAsync(NetworkStore.Session s, NetworkRow n) => new(n, [.. (await s.SubnetsOfAsync(n.Id)).Select(x => x.Id)]);

    public async Task<NetworkView> CreateNetworkAsync(RequestContext ctx, NetworkCreate request, CancellationToken cancellationToken)
    {
        var projectId = ProjectFor(ctx, request.ProjectId, "create_network");
        var now = Ids.Now();
        var network = new NetworkRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            Name = request.Name,
            Description = request.Description,
            AdminStateUp = request.AdminStateUp ?? true,
            Shared = request.Shared ?? false,
            External = request.External ?? false,
            Mtu = request.Mtu ?? options.Value.DefaultMtu,
            PortSecurityEnabled = request.PortSecurityEnabled ?? true,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await using (var s = await store.BeginAsync(cancellationToken, QuotaLock(projectId), VniLock))
        {
            await CheckQuotaAsync(projectId, "network", await s.CountNetworksAsync(projectId));
            network.SegmentationId = await AllocateVniAsync(s, network.External);
            await s.InsertNetworkAsync(network);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(network.Id, cancellationToken));
        return new NetworkView(network, []);
    }

    public async Task<NetworkView> UpdateNetworkAsync(RequestContext ctx, string id, NetworkUpdate update, CancellationToken cancellationToken)
    {
        NetworkView view;
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(id)))
        {
            var network = await OwnNetworkAsync(s, ctx, id, "update_network");
            network.Name = update.Name ?? network.Name;
            network.Description = update.Description ?? network.Description;
            network.AdminStateUp = update.AdminStateUp ?? network.AdminStateUp;
            network.Shared = update.Shared ?? network.Shared;
            network.External = update.External ?? network.External;
            network.Mtu = update.Mtu ?? network.Mtu;
            network.PortSecurityEnabled = update.PortSecurityEnabled ?? network.PortSecurityEnabled;
            network.UpdatedAt = Ids.Now();
            await s.UpdateNetworkAsync(network);
            network.RevisionNumber++;
            view = await ViewAsync(s, network);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(id, cancellationToken));
        return view;
    }

    /// <summary>Refused (NetworkInUse) while a port other than the network's own DHCP port is on it.</summary>
    public async Task DeleteNetworkAsync(RequestContext ctx, string id, CancellationToken cancellationToken)
    {
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(id)))
        {
            var network = await OwnNetworkAsync(s, ctx, id, "delete_network");
            if (network.External)
            {
                // Neutron deletes an external network's disassociated floating IPs with it; one a port holds keeps it in use.
                foreach (var floating in await s.DisassociatedFloatingIpsAsync(id))
                {
                    await s.DeleteFloatingIpAsync(floating.Id);
                    await s.DeletePortAsync(floating.FloatingPortId);
                }
            }

            if (await s.CountUserPortsOnNetworkAsync(id) > 0)
            {
                throw NetworkErrors.NetworkInUse(id);
            }

            await s.DeleteNetworkAsync(id);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkDeletedAsync(id, cancellationToken));
    }

    // Subnets.

    private static async Task<SubnetRow> VisibleSubnetAsync(NetworkStore.Session s, RequestContext ctx, string id)
    {
        // Neutron's get_subnet: the owner's, or on a shared network; an external network's subnets stay the admin's.
        if (await s.SubnetAsync(id) is { } subnet && (Owns(ctx, subnet.ProjectId) || await s.NetworkAsync(subnet.NetworkId) is { Shared: true }))
        {
            return subnet;
        }

        throw NetworkErrors.SubnetNotFound(id);
    }

    public async Task<List<SubnetRow>> ListSubnetsAsync(RequestContext ctx, CancellationToken cancellationToken) =>
        await store.ReadAsync(s => s.SubnetsAsync(ctx.IsCloudAdmin ? null : ctx.RequireProject()), cancellationToken);

    public async Task<SubnetRow> GetSubnetAsync(RequestContext ctx, string id, CancellationToken cancellationToken) =>
        await store.ReadAsync(s => VisibleSubnetAsync(s, ctx, id), cancellationToken);

    public async Task<SubnetRow> CreateSubnetAsync(RequestContext ctx, SubnetCreate request, CancellationToken cancellationToken)
    {
        var cidr = ParseSubnetCidr(request.Cidr);
        uint? gateway = request.GatewayGiven ? ParseGateway(request.GatewayIp, cidr) : cidr.FirstHost;
        var pools = request.AllocationPools is { } asked ? ParsePools(asked, cidr) : Ipam.DefaultPools(cidr, gateway);
        CheckGatewayOutsidePools(gateway, pools);
        var now = Ids.Now();
        var subnet = new SubnetRow
        {
            Id = Ids.NewUuid(),
            NetworkId = request.NetworkId,
            Name = request.Name,
            Description = request.Description,
            Cidr = cidr.ToString(),
            GatewayIp = gateway is { } g ? Ipv4.Format(g) : null,
            AllocationPools = PoolsText(pools),
            EnableDhcp = request.EnableDhcp ?? true,
            DnsNameservers = JsonSerializer.Serialize(CheckDns(request.DnsNameservers ?? []), NetworkStoredJson.Default.ListString),
            HostRoutes = JsonSerializer.Serialize(CheckRoutes(request.HostRoutes ?? []), NetworkStoredJson.Default.ListHostRouteText),
            CreatedAt = now,
            UpdatedAt = now,
        };

        var network = await store.ReadAsync(peek => OwnNetworkAsync(peek, ctx, request.NetworkId, "create_subnet"), cancellationToken);
        subnet.ProjectId = ProjectFor(ctx, request.ProjectId, "create_subnet");
        await using (var s = await store.BeginAsync(cancellationToken, QuotaLock(subnet.ProjectId), NetworkLock(network.Id)))
        {
            await CheckQuotaAsync(subnet.ProjectId, "subnet", await s.CountSubnetsAsync(subnet.ProjectId));
            if ((await s.SubnetsOfAsync(network.Id)).FirstOrDefault(other => ParseStored(other.Cidr).Overlaps(cidr)) is not null)
            {
                throw NetworkErrors.OverlappingCidr(subnet.Cidr, network.Id);
            }

            await s.InsertSubnetAsync(subnet);
            if (subnet.EnableDhcp)
            {
                await AddDhcpAddressAsync(s, network, subnet);
            }

            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(network.Id, cancellationToken));
        return subnet;
    }

    public async Task<SubnetRow> UpdateSubnetAsync(RequestContext ctx, string id, SubnetUpdate update, CancellationToken cancellationToken)
    {
        var subnet = await store.ReadAsync(peek => VisibleSubnetAsync(peek, ctx, id), cancellationToken);

        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(subnet.NetworkId)))
        {
            subnet = await VisibleSubnetAsync(s, ctx, id);
            if (!Owns(ctx, subnet.ProjectId))
            {
                throw NetworkErrors.PolicyNotAuthorized("rule:update_subnet");
            }

            var cidr = ParseStored(subnet.Cidr);
            var gateway = update.GatewayGiven ? ParseGateway(update.GatewayIp, cidr) : Ipv4.Parse(subnet.GatewayIp);
            var pools = update.AllocationPools is { } asked ? ParsePools(asked, cidr) : PoolsOf(subnet);
            CheckGatewayOutsidePools(gateway, pools);
            if (update.GatewayGiven && gateway is { } g && Ipv4.Format(g) != subnet.GatewayIp && (await s.UsedAddressesAsync(id)).Contains(g))
            {
                throw NetworkErrors.IpAddressAlreadyAllocated(Ipv4.Format(g), id);
            }

            var dhcpBefore = subnet.EnableDhcp;
            subnet.Name = update.Name ?? subnet.Name;
            subnet.Description = update.Description ?? subnet.Description;
            subnet.GatewayIp = gateway is { } gw ? Ipv4.Format(gw) : null;
            subnet.AllocationPools = PoolsText(pools);
            subnet.EnableDhcp = update.EnableDhcp ?? subnet.EnableDhcp;
            if (update.DnsNameservers is { } dns)
            {
                subnet.DnsNameservers = JsonSerializer.Serialize(CheckDns(dns), NetworkStoredJson.Default.ListString);
            }

            if (update.HostRoutes is { } routes)
            {
                subnet.HostRoutes = JsonSerializer.Serialize(CheckRoutes(routes), NetworkStoredJson.Default.ListHostRouteText);
            }

            subnet.UpdatedAt = Ids.Now();
            await s.UpdateSubnetAsync(subnet);
            subnet.RevisionNumber++;
            var network = (await s.NetworkAsync(subnet.NetworkId))!;
            if (subnet.EnableDhcp && !dhcpBefore)
            {
                await AddDhcpAddressAsync(s, network, subnet);
            }
            else if (!subnet.EnableDhcp && dhcpBefore)
            {
                await RemoveDhcpAddressAsync(s, network.Id, subnet.Id);
            }

            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(subnet.NetworkId, cancellationToken));
        return subnet;
    }

    /// <summary>Refused (SubnetInUse) while a port other than the network's own has an address on it.</summary>
    public async Task DeleteSubnetAsync(RequestContext ctx, string id, CancellationToken cancellationToken)
    {
        var subnet = await store.ReadAsync(peek => VisibleSubnetAsync(peek, ctx, id), cancellationToken);

        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(subnet.NetworkId)))
        {
            subnet = await VisibleSubnetAsync(s, ctx, id);
            if (!Owns(ctx, subnet.ProjectId))
            {
                throw NetworkErrors.PolicyNotAuthorized("rule:delete_subnet");
            }

            if (await s.CountUserPortsOnSubnetAsync(id) > 0)
            {
                throw NetworkErrors.SubnetInUse(id);
            }

            await RemoveDhcpAddressAsync(s, subnet.NetworkId, id);
            await s.DeletePortIpsOnSubnetAsync(id);
            await s.DeleteSubnetAsync(id);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(subnet.NetworkId, cancellationToken));
    }

    /// <summary>The network's DHCP port (made on its first DHCP subnet) gets the first free address of <paramref name="subnet"/>.</summary>
    private async Task AddDhcpAddressAsync(NetworkStore.Session s, NetworkRow network, SubnetRow subnet)
    {
        var port = await s.DhcpPortAsync(network.Id);
        var position = 0;
        if (port is null)
        {
            var now = Ids.Now();
            port = new PortRow
            {
                Id = Ids.NewUuid(),
                NetworkId = network.Id,
                ProjectId = network.ProjectId,
                MacAddress = await NewMacAsync(s, network.Id),
                Status = PortActive,
                DeviceOwner = DhcpOwner,
                DeviceId = $"dhcp{host.Value.HostName}-{network.Id}",
                PortSecurityEnabled = false,
                BindingHostId = host.Value.HostName,
                CreatedAt = now,
                UpdatedAt = now,
            };
            await s.InsertPortAsync(port);
        }
        else
        {
            position = (await s.PortIpsAsync([port.Id])).Count;
        }

        var address = Ipam.FirstFree(PoolsOf(subnet), await s.UsedAddressesAsync(subnet.Id)) ?? throw NetworkErrors.IpAddressGenerationFailure(network.Id);
        await s.InsertPortIpAsync(new PortIpRow { PortId = port.Id, SubnetId = subnet.Id, NetworkId = network.Id, IpAddress = Ipv4.Format(address), Position = position });
    }

    /// <summary>The DHCP port gives up its address on the subnet, and goes when it has none left.</summary>
    private static async Task RemoveDhcpAddressAsync(NetworkStore.Session s, string networkId, string subnetId)
    {
        if (await s.DhcpPortAsync(networkId) is not { } port)
        {
            return;
        }

        var kept = (await s.PortIpsAsync([port.Id])).Where(ip => ip.SubnetId != subnetId).ToList();
        await s.DeletePortIpsAsync(port.Id);
        if (kept.Count == 0)
        {
            await s.DeletePortAsync(port.Id);
            return;
        }

        foreach (var ip in kept)
        {
            await s.InsertPortIpAsync(ip);
        }
    }

    // Address validation.

    private static Ipv4Cidr ParseStored(string cidr) => Ipv4Cidr.TryParse(cidr, out var parsed, out _) ? parsed : throw new InvalidOperationException("stored cidr " + cidr);

    /// <summary>IPv4 only, prefix 8 to 30, no host bits: Neutron's messages where it has one.</summary>
    private static Ipv4Cidr ParseSubnetCidr(string text)
    {
        if (Ipv4.LooksLikeIpv6(text))
        {
            throw NetworkErrors.InvalidInput("IPv6 subnets are not supported by this cloud; only ip_version 4");
        }

        if (!Ipv4Cidr.TryParse(text, out var cidr, out var exact))
        {
            throw NetworkErrors.InvalidAttribute("cidr", $"'{Limits.Text(text, "cidr")}' is not a valid IP subnet");
        }

        if (!exact)
        {
            throw NetworkErrors.InvalidAttribute("cidr", $"'{text}' isn't a recognized IP subnet cidr, '{cidr}' is recommended");
        }

        return cidr.Prefix is < 8 or > 30
            ? throw NetworkErrors.InvalidInput($"Subnet prefix length {cidr.Prefix} is not supported: it must be between 8 and 30")
            : cidr;
    }

    private static uint? ParseGateway(string? text, Ipv4Cidr cidr)
    {
        if (text is null)
        {
            return null;
        }

        var gateway = Ipv4.Parse(text) ?? throw NetworkErrors.InvalidAttribute("gateway_ip", $"'{Limits.Text(text, "gateway_ip")}' is not a valid IP address");
        return cidr.IsHost(gateway) ? gateway : throw NetworkErrors.InvalidInput($"Gateway IP {text} is not a host address of subnet {cidr}");
    }

    private static List<IpRange> ParsePools(IReadOnlyList<PoolText> asked, Ipv4Cidr cidr)
    {
        if (asked.Count > MaxAllocationPools)
        {
            throw NetworkErrors.InvalidInput($"At most {MaxAllocationPools} allocation pools are allowed");
        }

        var pools = new List<IpRange>();
        foreach (var pool in asked)
        {
            if (Ipv4.Parse(pool.Start) is not { } start || Ipv4.Parse(pool.End) is not { } end || start > end)
            {
                throw Error("InvalidAllocationPool", $"The allocation pool {Limits.Text(pool.Start, "start")}-{Limits.Text(pool.End, "end")} is not valid.");
            }

            var range = new IpRange(start, end);
            if (!cidr.IsHost(start) || !cidr.IsHost(end))
            {
                throw Error("OutOfBoundsAllocationPool", $"The allocation pool {pool.Start}-{pool.End} spans beyond the subnet cidr {cidr}.");
            }

            if (pools.Any(p => p.Overlaps(range)))
            {
                var other = pools.First(p => p.Overlaps(range));
                throw Error("OverlappingAllocationPools", $"Found overlapping allocation pools: {Ipv4.Format(other.Start)}-{Ipv4.Format(other.End)} and {pool.Start}-{pool.End} for subnet {cidr}.");
            }

            pools.Add(range);
        }

        return pools;

        static ApiException Error(string type, string message) => new(ErrorKind.BadRequest, message) { Type = type };
    }

    private static void CheckGatewayOutsidePools(uint? gateway, IEnumerable<IpRange> pools)
    {
        if (gateway is { } g && pools.FirstOrDefault(p => p.Contains(g)) is { End: > 0 } pool)
        {
            throw NetworkErrors.GatewayConflict(Ipv4.Format(g), $"{Ipv4.Format(pool.Start)}-{Ipv4.Format(pool.End)}");
        }
    }

    private static List<string> CheckDns(IReadOnlyList<string> servers)
    {
        if (servers.Count > MaxDnsNameservers)
        {
            throw new ApiException(ErrorKind.BadRequest, $"Unable to complete operation for subnet. The number of DNS nameservers exceeds the limit {MaxDnsNameservers}.") { Type = "DNSNameServersExhausted" };
        }

        foreach (var server in servers)
        {
            _ = Ipv4.Parse(server) ?? throw NetworkErrors.InvalidAttribute("dns_nameservers", $"'{Limits.Text(server, "dns_nameservers")}' is not a valid nameserver");
        }

        return servers.Count == servers.Distinct(StringComparer.Ordinal).Count()
            ? [.. servers]
            : throw NetworkErrors.InvalidAttribute("dns_nameservers", "Duplicate nameserver");
    }

    private static List<HostRouteText> CheckRoutes(IReadOnlyList<HostRouteText> routes)
    {
        if (routes.Count > MaxHostRoutes)
        {
            throw new ApiException(ErrorKind.BadRequest, $"Unable to complete operation for subnet. The number of host routes exceeds the limit {MaxHostRoutes}.") { Type = "HostRoutesExhausted" };
        }

        foreach (var route in routes)
        {
            if (!Ipv4Cidr.TryParse(route.Destination, out _, out var exact) || !exact || Ipv4.Parse(route.Nexthop) is null)
            {
                throw NetworkErrors.InvalidAttribute("host_routes", $"'{Limits.Text(route.Destination, "destination")}' via '{Limits.Text(route.Nexthop, "nexthop")}' is not a valid IPv4 host route");
            }
        }

        return [.. routes];
    }

    public static List<IpRange> PoolsOf(SubnetRow subnet) =>
        [.. JsonSerializer.Deserialize(subnet.AllocationPools, NetworkStoredJson.Default.ListPoolText)!.Select(p => new IpRange(Ipv4.Parse(p.Start)!.Value, Ipv4.Parse(p.End)!.Value))];

    private static string PoolsText(IEnumerable<IpRange> pools) =>
        JsonSerializer.Serialize(pools.Select(p => new PoolText(Ipv4.Format(p.Start), Ipv4.Format(p.End))).ToList(), NetworkStoredJson.Default.ListPoolText);

    // Notifications.

    /// <summary>Tells the data plane after a commit; its failure is logged, since the change itself is made.</summary>
    private async Task NotifyAsync(Func<INetworkChanges, Task> call)
    {
        try
        {
            await call(changes);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogNotifyFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The network data plane failed to take a committed change")]
    private static partial void LogNotifyFailed(ILogger logger, Exception exception);
}
