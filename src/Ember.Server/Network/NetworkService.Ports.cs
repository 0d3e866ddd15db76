using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ember.Server.Common;

namespace Ember.Server.Network;

// Ports: MAC addresses, fixed IPs (IPAM), security groups and address pairs of a port.
public sealed partial class NetworkService
{
    public const int MaxAddressPairs = 10;

    [GeneratedRegex("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", RegexOptions.CultureInvariant)]
    private static partial Regex MacPattern();

    private static bool IsNetworkOwned(string deviceOwner) => deviceOwner.StartsWith("network:", StringComparison.Ordinal);

    private static async Task<PortRow> OwnPortAsync(NetworkStore.Session s, RequestContext ctx, string id) =>
        await s.PortAsync(id) is { } port && Owns(ctx, port.ProjectId) ? port : throw NetworkErrors.PortNotFound(id);

    private static async Task<PortView> PortViewAsync(NetworkStore.Session s, PortRow port) =>
        (await PortViewsAsync(s, [port]))[0];

    private static async Task<List<PortView>> PortViewsAsync(NetworkStore.Session s, List<PortRow> ports)
    {
        var ids = ports.Select(p => p.Id).ToList();
        var ips = (await s.PortIpsAsync(ids)).ToLookup(ip => ip.PortId, StringComparer.Ordinal);
        var groups = (await s.PortGroupsAsync(ids)).ToLookup(g => g.PortId, g => g.GroupId, StringComparer.Ordinal);
        return [.. ports.Select(p => new PortView(p, [.. ips[p.Id]], [.. groups[p.Id]]))];
    }

    public async Task<List<PortView>> ListPortsAsync(RequestContext ctx, string? networkId, string? deviceId, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => await PortViewsAsync(s, await s.PortsAsync(ctx.IsCloudAdmin ? null : ctx.RequireProject(), networkId, deviceId)), cancellationToken);

    public async Task<PortView> GetPortAsync(RequestContext ctx, string id, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => await PortViewAsync(s, await OwnPortAsync(s, ctx, id)), cancellationToken);

    public async Task<PortView> CreatePortAsync(RequestContext ctx, PortCreate request, CancellationToken cancellationToken)
    {
        var projectId = ProjectFor(ctx, request.ProjectId, "create_port");
        PortView view;
        await using (var s = await store.BeginAsync(cancellationToken, QuotaLock(projectId), NetworkLock(request.NetworkId)))
        {
            var network = await VisibleNetworkAsync(s, ctx, request.NetworkId);
            if (!IsNetworkOwned(request.DeviceOwner))
            {
                await CheckQuotaAsync(projectId, "port", await s.CountPortsAsync(projectId));
            }

            var now = Ids.Now();
            var port = new PortRow
            {
                Id = Ids.NewUuid(),
                NetworkId = network.Id,
                ProjectId = projectId,
                Name = request.Name,
                Description = request.Description,
                AdminStateUp = request.AdminStateUp ?? true,
                DeviceOwner = request.DeviceOwner,
                DeviceId = request.DeviceId,
                PortSecurityEnabled = request.PortSecurityEnabled ?? network.PortSecurityEnabled,
                BindingHostId = request.BindingHostId ?? "",
                CreatedForServer = request.CreatedForServer,
                DeviceTag = request.DeviceTag,
                Status = string.IsNullOrEmpty(request.BindingHostId) ? PortDown : PortActive,
                CreatedAt = now,
                UpdatedAt = now,
            };
            port.MacAddress = request.MacAddress is { } mac ? await CheckMacAsync(s, network.Id, mac) : await NewMacAsync(s, network.Id);
            port.AllowedAddressPairs = AddressPairsText(request.AllowedAddressPairs ?? [], port);
            var groups = await GroupsForPortAsync(s, ctx, port, request.SecurityGroups);
            await s.InsertPortAsync(port);
            await s.SetPortGroupsAsync(port.Id, groups);
            await AllocateAsync(s, network.Id, port.Id, request.FixedIps);
            view = await PortViewAsync(s, port);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(view.Port.NetworkId, cancellationToken));
        return view;
    }

    public async Task<PortView> UpdatePortAsync(RequestContext ctx, string id, PortUpdate update, CancellationToken cancellationToken)
    {
        var before = await store.ReadAsync(peek => OwnPortAsync(peek, ctx, id), cancellationToken);
        PortView view;
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(before.NetworkId)))
        {
            var port = await OwnPortAsync(s, ctx, id);
            port.Name = update.Name ?? port.Name;
            port.Description = update.Description ?? port.Description;
            port.AdminStateUp = update.AdminStateUp ?? port.AdminStateUp;
            port.DeviceOwner = update.DeviceOwner ?? port.DeviceOwner;
            port.DeviceId = update.DeviceId ?? port.DeviceId;
            port.PortSecurityEnabled = update.PortSecurityEnabled ?? port.PortSecurityEnabled;
            port.DeviceTag = update.DeviceTag ?? port.DeviceTag;
            if (update.BindingHostId is { } bindingHost)
            {
                port.BindingHostId = bindingHost;
                port.Status = bindingHost.Length == 0 ? PortDown : PortActive;
            }

            if (update.MacAddress is { } mac && !string.Equals(mac, port.MacAddress, StringComparison.OrdinalIgnoreCase))
            {
                if (port.BindingHostId.Length > 0)
                {
                    // The MAC is plugged into a host's tap device: Neutron refuses it too.
                    throw new ApiException(ErrorKind.Conflict, $"Unable to complete operation on port {port.Id}, port is already bound, port type: tap, old_mac {port.MacAddress}, new_mac {mac.ToLowerInvariant()}.") { Type = "PortBound" };
                }

                port.MacAddress = await CheckMacAsync(s, port.NetworkId, mac);
            }

            var pairs = update.AllowedAddressPairs ?? JsonSerializer.Deserialize(port.AllowedAddressPairs, NetworkStoredJson.Default.ListAddressPairText)!;
            port.AllowedAddressPairs = AddressPairsText(pairs, port);
            var current = (await PortViewAsync(s, port)).SecurityGroups;
            List<string> groups = update.SecurityGroups is { } asked ? await GroupsForPortAsync(s, ctx, port, asked)
                : !port.PortSecurityEnabled && current.Count > 0 ? throw PortSecurityRequired()
                : [.. current];
            port.UpdatedAt = Ids.Now();
            await s.UpdatePortAsync(port);
            port.RevisionNumber++;
            await s.SetPortGroupsAsync(port.Id, groups);
            if (update.FixedIps is { } fixedIps)
            {
                await s.DeletePortIpsAsync(port.Id);
                await AllocateAsync(s, port.NetworkId, port.Id, fixedIps);
            }

            view = await PortViewAsync(s, port);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.NetworkChangedAsync(view.Port.NetworkId, cancellationToken));
        return view;
    }

    public async Task DeletePortAsync(RequestContext ctx, string id, CancellationToken cancellationToken)
    {
        var port = await store.ReadAsync(peek => OwnPortAsync(peek, ctx, id), cancellationToken);
        await using (var s = await store.BeginAsync(cancellationToken, NetworkLock(port.NetworkId)))
        {
            port = await OwnPortAsync(s, ctx, id);
            if (port.DeviceOwner is RouterInterfaceOwner or RouterGatewayOwner or FloatingIpOwner)
            {
                // The router's or floating IP's own: remove_router_interface, the router's gateway or the floating IP take it away.
                throw NetworkErrors.ServicePortInUse(id, port.DeviceOwner);
            }

            await s.DeletePortAsync(id);
            await s.CommitAsync(cancellationToken);
        }

        await NotifyAsync(c => c.PortDeletedAsync(id, port.NetworkId, cancellationToken));
    }

    private static ApiException PortSecurityRequired() => new(ErrorKind.Conflict,
        "Port Security must be enabled in order to have allowed address pairs or security groups on a port.")
    { Type = "PortSecurityAndIPRequiredForSecurityGroups" };

    /// <summary>
    /// The groups a port gets: those asked for (each the port's project's), else its project's default group when
    /// port security is on. None at all when port security is off (asking for some then is a 409).
    /// </summary>
    private async Task<List<string>> GroupsForPortAsync(NetworkStore.Session s, RequestContext ctx, PortRow port, IReadOnlyList<string>? asked)
    {
        if (asked is { Count: > 0 } && !port.PortSecurityEnabled)
        {
            throw PortSecurityRequired();
        }

        if (asked is null)
        {
            return port.PortSecurityEnabled && !IsNetworkOwned(port.DeviceOwner)
                ? [(await EnsureDefaultGroupAsync(s, port.ProjectId)).Id]
                : [];
        }

        foreach (var id in asked)
        {
            if (await s.GroupAsync(id) is not { } group || group.ProjectId != port.ProjectId && !ctx.IsCloudAdmin)
            {
                throw NetworkErrors.SecurityGroupNotFound(id);
            }
        }

        return [.. asked.Distinct(StringComparer.Ordinal)];
    }

    private static string AddressPairsText(IReadOnlyList<AddressPairText> pairs, PortRow port)
    {
        if (pairs.Count > 0 && !port.PortSecurityEnabled)
        {
            throw new ApiException(ErrorKind.Conflict, "Port Security must be enabled in order to have allowed address pairs on a port.") { Type = "AddressPairAndPortSecurityRequired" };
        }

        if (pairs.Count > MaxAddressPairs)
        {
            throw new ApiException(ErrorKind.BadRequest, $"Exceeded maximum amount of allowed address pairs {MaxAddressPairs}.") { Type = "AllowedAddressPairExhausted" };
        }

        var normalized = new List<AddressPairText>();
        foreach (var pair in pairs)
        {
            var ipValid = Ipv4.Parse(pair.IpAddress) is not null || Ipv4Cidr.TryParse(pair.IpAddress, out _, out _);
            if (!ipValid)
            {
                throw NetworkErrors.InvalidAttribute("allowed_address_pairs", $"'{Limits.Text(pair.IpAddress, "ip_address")}' is not a valid IPv4 address or network");
            }

            var mac = string.IsNullOrEmpty(pair.MacAddress) ? port.MacAddress : pair.MacAddress.ToLowerInvariant();
            if (!MacPattern().IsMatch(mac))
            {
                throw NetworkErrors.InvalidAttribute("allowed_address_pairs", $"'{Limits.Text(pair.MacAddress, "mac_address")}' is not a valid MAC address");
            }

            normalized.Add(new AddressPairText(pair.IpAddress, mac));
        }

        return JsonSerializer.Serialize(normalized, NetworkStoredJson.Default.ListAddressPairText);
    }

    /// <summary>A given MAC: six lowercase hex pairs, unicast, not zero, unused on the network.</summary>
    private static async Task<string> CheckMacAsync(NetworkStore.Session s, string networkId, string mac)
    {
        var lower = mac.ToLowerInvariant();
        if (!MacPattern().IsMatch(lower) || (Convert.ToByte(lower[..2], 16) & 1) == 1 || lower == "00:00:00:00:00:00")
        {
            throw NetworkErrors.InvalidAttribute("mac_address", $"'{Limits.Text(mac, "mac_address")}' is not a valid MAC address");
        }

        return await s.CountMacAsync(networkId, lower) > 0 ? throw NetworkErrors.MacAddressInUse(networkId, lower) : lower;
    }

    /// <summary>fa:16:3e plus three random bytes (Neutron's base_mac), one not in use on the network.</summary>
    private static async Task<string> NewMacAsync(NetworkStore.Session s, string networkId)
    {
        for (var attempt = 0; attempt < 16; attempt++)
        {
            var bytes = RandomNumberGenerator.GetBytes(3);
            var mac = string.Create(CultureInfo.InvariantCulture, $"fa:16:3e:{bytes[0]:x2}:{bytes[1]:x2}:{bytes[2]:x2}");
            if (await s.CountMacAsync(networkId, mac) == 0)
            {
                return mac;
            }
        }

        throw new ApiException(ErrorKind.ServiceUnavailable, "Unable to generate a unique MAC address.") { Type = "MacAddressGenerationFailure" };
    }

    /// <summary>
    /// Gives the port its fixed IPs: those asked for (a subnet, an address, or both), else the first free address of
    /// the network's first subnet that has one. A given address must be a host of its subnet, not the gateway, unused.
    /// </summary>
    private static async Task AllocateAsync(NetworkStore.Session s, string networkId, string portId, IReadOnlyList<IpRequest>? requests)
    {
        var subnets = await s.SubnetsOfAsync(networkId);
        var used = new Dictionary<string, HashSet<uint>>(StringComparer.Ordinal);
        async Task<HashSet<uint>> UsedAsync(SubnetRow subnet) =>
            used.TryGetValue(subnet.Id, out var set) ? set : used[subnet.Id] = await s.UsedAddressesAsync(subnet.Id);

        var position = 0;
        async Task TakeAsync(SubnetRow subnet, uint address)
        {
            (await UsedAsync(subnet)).Add(address);
            await s.InsertPortIpAsync(new PortIpRow { PortId = portId, SubnetId = subnet.Id, NetworkId = networkId, IpAddress = Ipv4.Format(address), Position = position++ });
        }

        if (requests is null)
        {
            foreach (var subnet in subnets)
            {
                if (Ipam.FirstFree(PoolsOf(subnet), await UsedAsync(subnet)) is { } free)
                {
                    await TakeAsync(subnet, free);
                    return;
                }
            }

            if (subnets.Count > 0)
            {
                throw NetworkErrors.IpAddressGenerationFailure(networkId);
            }

            return;
        }

        if (requests.Count > MaxFixedIps)
        {
            throw new ApiException(ErrorKind.BadRequest, $"Exceeded maximum amount of fixed ips per port ({MaxFixedIps}).") { Type = "InvalidInput" };
        }

        foreach (var request in requests)
        {
            uint? address = null;
            if (request.IpAddress is { } text)
            {
                address = Ipv4.Parse(text) ?? throw NetworkErrors.InvalidAttribute("fixed_ips", $"'{Limits.Text(text, "ip_address")}' is not a valid IPv4 address");
            }

            SubnetRow subnet;
            if (request.SubnetId is { } subnetId)
            {
                subnet = subnets.FirstOrDefault(x => x.Id == subnetId)
                    ?? (await s.SubnetAsync(subnetId) is null
                        ? throw NetworkErrors.SubnetNotFound(subnetId)
                        : throw NetworkErrors.InvalidInput($"Failed to create port on network {networkId}, because fixed_ips included invalid subnet {subnetId}"));
            }
            else if (address is { } a)
            {
                subnet = subnets.FirstOrDefault(x => ParseStored(x.Cidr).Contains(a))
                    ?? throw new ApiException(ErrorKind.BadRequest, $"IP address {request.IpAddress} is not a valid IP for any of the subnets on the specified network.") { Type = "InvalidIpForNetwork" };
            }
            else
            {
                throw NetworkErrors.InvalidInput("Exactly one of subnet_id or ip_address (or both) must be given in each fixed_ips entry");
            }

            if (address is { } wanted)
            {
                if (!ParseStored(subnet.Cidr).IsHost(wanted))
                {
                    throw NetworkErrors.InvalidIpForSubnet(Ipv4.Format(wanted));
                }

                if (Ipv4.Format(wanted) == subnet.GatewayIp || (await UsedAsync(subnet)).Contains(wanted))
                {
                    throw NetworkErrors.IpAddressAlreadyAllocated(Ipv4.Format(wanted), subnet.Id);
                }

                await TakeAsync(subnet, wanted);
            }
            else
            {
                await TakeAsync(subnet, Ipam.FirstFree(PoolsOf(subnet), await UsedAsync(subnet)) ?? throw NetworkErrors.IpAddressGenerationFailure(networkId));
            }
        }
    }
}
