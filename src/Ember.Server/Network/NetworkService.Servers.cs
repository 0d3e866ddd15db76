using System.Text.Json;
using Ember.Network;
using Ember.Server.Common;

namespace Ember.Server.Network;

// What compute asks besides NetworkService.Compute.cs: a server's addresses for its views, and what a host's data plane needs.
public sealed partial class NetworkService
{
    /// <summary>The MAC of the network's DHCP port, which the host gives its DHCP server's interface; null without one.</summary>
    public async Task<string?> DhcpPortMacAsync(string networkId, CancellationToken cancellationToken) =>
        (await store.ReadAsync(s => s.DhcpPortAsync(networkId), cancellationToken))?.MacAddress;

    /// <summary>The network revision: it moves with every committed write, so a watch that saw it before need not read again.</summary>
    public async Task<long> RevisionAsync(CancellationToken cancellationToken) => await store.ReadAsync(s => s.RevisionAsync(), cancellationToken);

    /// <summary>How many servers' ports on the network are bound to <paramref name="host"/>: none left, its bridge and DHCP server go.</summary>
    public async Task<long> CountHostPortsAsync(string networkId, string host, CancellationToken cancellationToken) =>
        await store.ReadAsync(s => s.CountHostPortsAsync(networkId, host), cancellationToken);

    /// <summary>Binds the server's ports to <paramref name="host"/>, where it is rebuilt (evacuate).</summary>
    public Task BindServerPortsAsync(string serverId, string host, CancellationToken cancellationToken) =>
        UpdateServerPortsAsync(serverId, p => p.BindingHostId != host, p => p.BindingHostId = host, cancellationToken);

    /// <summary>The server's ports ACTIVE once its host has plugged them (Neutron's port status after the agent wires a VIF).</summary>
    public Task MarkServerPortsActiveAsync(string serverId, CancellationToken cancellationToken) =>
        UpdateServerPortsAsync(serverId, p => p.Status != PortActive, p => p.Status = PortActive, cancellationToken);

    private async Task UpdateServerPortsAsync(string serverId, Func<PortRow, bool> needed, Action<PortRow> change, CancellationToken cancellationToken)
    {
        var ports = await store.ReadAsync(s => s.ServerPortsAsync([serverId]), cancellationToken);
        foreach (var port in ports.Where(needed))
        {
            await using var s = await store.BeginAsync(cancellationToken, NetworkLock(port.NetworkId));
            change(port);
            port.UpdatedAt = Ids.Now();
            await s.UpdatePortAsync(port);
            await s.CommitAsync(cancellationToken);
        }
    }

    /// <summary>A server's addresses as Nova shows them: by network name, in port order (eth0's first).</summary>
    public async Task<List<ServerAddress>> ServerAddressesAsync(string serverId, CancellationToken cancellationToken) =>
        [.. (await ServerAddressesAsync([serverId], cancellationToken))[serverId]];

    /// <summary>The addresses of a page of servers, keyed by server id: three queries, whatever the page's size.</summary>
    public async Task<ILookup<string, ServerAddress>> ServerAddressesAsync(IReadOnlyCollection<string> serverIds, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var ports = await s.ServerPortsAsync(serverIds);
            var ips = (await s.PortIpsAsync([.. ports.Select(p => p.Id)])).ToLookup(ip => ip.PortId, StringComparer.Ordinal);
            var names = (await s.NetworkNamesAsync([.. ports.Select(p => p.NetworkId).Distinct()])).ToDictionary(n => n.Id, n => n.Name, StringComparer.Ordinal);
            return ports
                .SelectMany(port => ips[port.Id].Select(ip => (port.DeviceId, Address: new ServerAddress(names.GetValueOrDefault(port.NetworkId, port.NetworkId), ip.IpAddress, port.MacAddress))))
                .ToLookup(a => a.DeviceId, a => a.Address, StringComparer.Ordinal);
        }, cancellationToken);

    /// <summary>
    /// The names of the security groups on the servers' ports, keyed by server id, each once (Nova's security_groups of
    /// a server view): three queries, whatever the page's size. A server without ports has none.
    /// </summary>
    public async Task<ILookup<string, string>> ServerSecurityGroupNamesAsync(IReadOnlyCollection<string> serverIds, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var ports = await s.ServerPortsAsync(serverIds);
            var memberships = await s.PortGroupsAsync([.. ports.Select(p => p.Id)]);
            var names = (await s.GroupNamesAsync([.. memberships.Select(m => m.GroupId).Distinct()])).ToDictionary(g => g.Id, g => g.Name, StringComparer.Ordinal);
            var serverOf = ports.ToDictionary(p => p.Id, p => p.DeviceId, StringComparer.Ordinal);
            return memberships
                .Select(m => (Server: serverOf[m.PortId], Name: names.GetValueOrDefault(m.GroupId, m.GroupId)))
                .Distinct()
                .ToLookup(m => m.Server, m => m.Name, StringComparer.Ordinal);
        }, cancellationToken);

    /// <summary>
    /// What the data plane of <paramref name="host"/> enforces: every server port bound there with its addresses, allowed
    /// address pairs and the rules of its security groups, remote groups expanded to their members' addresses. One
    /// read of the whole port table: the host compares it with what it applied last (HostNetworking's watch).
    /// </summary>
    public async Task<List<PortSecurity>> HostPortSecurityAsync(string host, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var all = await s.PortsAsync(null);
            var local = all.Where(p => p.DeviceOwner == ComputeOwner && p.BindingHostId == host).ToList();
            if (local.Count == 0)
            {
                return [];
            }

            var ids = all.Select(p => p.Id).ToList();
            var ips = (await s.PortIpsAsync(ids)).ToLookup(ip => ip.PortId, ip => ip.IpAddress);
            var membership = await s.PortGroupsAsync(ids);
            var membersOf = membership.ToLookup(m => m.GroupId, m => m.PortId);
            var groupsOf = membership.ToLookup(m => m.PortId, m => m.GroupId);
            var rules = (await s.RulesAsync(null, [.. local.SelectMany(p => groupsOf[p.Id]).Distinct()])).ToLookup(r => r.SecurityGroupId);
            return local.Select(port => new PortSecurity(
                port.Id,
                port.MacAddress,
                [.. ips[port.Id]],
                [.. (JsonSerializer.Deserialize(port.AllowedAddressPairs, NetworkStoredJson.Default.ListAddressPairText) ?? [])
                    .Select(pair => new AllowedAddressPair(pair.IpAddress, string.IsNullOrEmpty(pair.MacAddress) ? null : pair.MacAddress))],
                [.. groupsOf[port.Id].SelectMany(g => rules[g]).Select(rule => new SecurityRule(
                    rule.Direction == "egress" ? RuleDirection.Egress : RuleDirection.Ingress,
                    rule.Ethertype,
                    rule.Protocol,
                    rule.PortRangeMin,
                    rule.PortRangeMax,
                    rule.RemoteIpPrefix,
                    rule.RemoteGroupId is { } remote ? [.. membersOf[remote].SelectMany(member => ips[member])] : null))],
                port.PortSecurityEnabled)).ToList();
        }, cancellationToken);
}

/// <summary>One fixed address of a server, with the network's name and the port's MAC (Nova's addresses, OS-EXT-IPS-MAC).</summary>
public sealed record ServerAddress(string NetworkName, string Address, string MacAddress);
