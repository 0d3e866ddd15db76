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

    public async Task<List<NetworkAgentRow>> ListAgentsAsync(CancellationToken cancellationToken) =>
        await store.ReadAsync(s => s.AgentsAsync(), cancellationToken);

    /// <summary>
    /// The tunnelled networks <paramref name="host"/> has server ports on, each with the tunnel addresses of the other hosts
    /// that have server ports on it. External networks are not tunnelled (each host's external bridge is its own segment).
    /// </summary>
    public async Task<List<HostTunnel>> HostTunnelsAsync(string host, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s =>
        {
            var local = (await s.HostServerPortsAsync(host)).Select(p => p.NetworkId).Distinct(StringComparer.Ordinal).ToList();
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
