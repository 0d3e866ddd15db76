using System.Globalization;
using System.Security.Cryptography;

namespace Ember.Server.Network;

/// <summary>A tenant network as one host spans it: its VNI and MTU, and the other hosts' tunnel addresses.</summary>
public sealed record HostTunnel(string NetworkId, int Vni, int Mtu, IReadOnlyList<string> Peers);

// What the compute hosts' network agents register, and what each needs of the other hosts (HostNetworking's tunnel watch).
public sealed partial class NetworkService
{
    /// <summary>A host's agent row, written at its start: tunnel endpoint, and whether it has a data plane (and why not).</summary>
    public async Task RegisterAgentAsync(NetworkAgentRow agent, CancellationToken cancellationToken)
    {
        await using var s = await store.BeginAsync(cancellationToken);
        await s.UpsertAgentAsync(agent);
        await s.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// The host's DVR MAC (Neutron's dvr_host_macs): made the first time the host asks, <c>fa:16:3f</c> (Neutron's
    /// dvr_base_mac) and three random bytes, unique among the hosts.
    /// </summary>
    public async Task<string> GetOrCreateDvrHostMacAsync(string host, CancellationToken cancellationToken)
    {
        await using var s = await store.BeginAsync(cancellationToken, DvrMacLock);
        if (await s.DvrHostMacAsync(host) is { } known)
        {
            return known;
        }

        for (var attempt = 0; attempt < 16; attempt++)
        {
            var bytes = RandomNumberGenerator.GetBytes(3);
            var mac = string.Create(CultureInfo.InvariantCulture, $"fa:16:3f:{bytes[0]:x2}:{bytes[1]:x2}:{bytes[2]:x2}");
            if (await s.CountDvrHostMacAsync(mac) == 0)
            {
                await s.InsertDvrHostMacAsync(host, mac);
                await s.CommitAsync(cancellationToken);
                return mac;
            }
        }

        throw new InvalidOperationException("Unable to generate a unique DVR host MAC address.");
    }

    private const string DvrMacLock = "network-dvr-mac";

    public async Task<List<NetworkAgentRow>> ListAgentsAsync(CancellationToken cancellationToken) =>
        await store.ReadAsync(s => s.AgentsAsync(), cancellationToken);

    /// <summary>
    /// The tunnelled networks <paramref name="host"/> has server ports on, or that a router realized there has an interface on
    /// (DVR: the router copy sends to those networks' guests on other hosts), each with the tunnel addresses of the other
    /// hosts that have server ports on it. A host that only has a router's interface on a network is nobody's peer there:
    /// no one sends that network's frames to it (its guests' replies leave through their own host's router copy).
    /// External networks are not tunnelled (each host's external bridge is its own segment).
    /// </summary>
    public async Task<List<HostTunnel>> HostTunnelsAsync(string host, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var servers = (await s.HostServerPortsAsync(host)).Select(p => p.NetworkId).ToHashSet(StringComparer.Ordinal);
            var routed = (await RoutersOnNetworksAsync(s, servers)).SelectMany(r => r.Interfaces.Select(p => p.NetworkId));
            var local = servers.Union(routed).Order(StringComparer.Ordinal).ToList();
            var peers = (await s.TunnelPeersAsync(local, host)).ToLookup(p => p.NetworkId, p => p.Address, StringComparer.Ordinal);
            var result = new List<HostTunnel>();
            foreach (var id in local)
            {
                if (await s.NetworkAsync(id) is { External: false, SegmentationId: { } vni } network)
                {
                    result.Add(new HostTunnel(id, vni, network.Mtu, [.. peers[id].Order(StringComparer.Ordinal)]));
                }
            }

            return result;
        }, cancellationToken);
}
