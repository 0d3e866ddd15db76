using Ember.Server.Common;
using Ember.Server.Network;

namespace Ember.Server.Compute;

// A server's network interfaces, as Nova asks Neutron for them: resolved and checked before anything is reserved,
// ports made once the host is known (bound to it), deleted with the server.
public sealed partial class ComputeService
{
    /// <summary>
    /// The networks and ports the server's interfaces go on, in guest order. "auto" and no networks at all take the
    /// project's one network (its own or a shared one); "auto" without any makes the project's auto-allocated network
    /// (Nova's get-me-a-network), no networks below 2.37 then gives no interface. Several candidates are Nova's 409.
    /// Without host networking (Network:HostNetworking off) nothing is wired: "auto" gives no interface, a list is a 400.
    /// </summary>
    private async Task<IReadOnlyList<NicRequest>> ResolveNicsAsync(RequestContext ctx, ServerCreateRequest request)
    {
        var wired = networkOptions.Value is { Enabled: true, HostNetworking: true };
        switch (request.NetworkMode)
        {
            case NetworkMode.None:
                return [];
            case NetworkMode.Explicit when !wired:
                throw ApiException.BadRequest("Networking is not available on this cloud: servers are booted without interfaces (Network:HostNetworking is off).");
            case NetworkMode.Explicit:
                foreach (var nic in request.Nics)
                {
                    await CheckNicAsync(ctx, nic);
                }

                return request.Nics;
            case NetworkMode.Default or NetworkMode.Auto when !wired:
                return [];
            default:
                var candidates = (await networks.ListNetworksAsync(ctx, CancellationToken.None))
                    .Select(v => v.Network)
                    .Where(n => n.Shared || (n.ProjectId == ctx.ProjectId && !n.External))
                    .ToList();
                if (candidates.Count > 1)
                {
                    throw ApiException.Conflict("Multiple possible networks found, use a Network ID to be more specific.");
                }

                if (candidates.Count == 1)
                {
                    return [new NicRequest(candidates[0].Id, null, null, null)];
                }

                return request.NetworkMode == NetworkMode.Auto
                    ? [new NicRequest(await networks.GetOrCreateAutoNetworkAsync(ctx.RequireProject(), CancellationToken.None), null, null, null)]
                    : [];
        }
    }

    /// <summary>Nova's checks of one requested interface: the network or port exists for the caller, the port is free.</summary>
    private async Task CheckNicAsync(RequestContext ctx, NicRequest nic)
    {
        try
        {
            if (nic.PortId is { } portId)
            {
                var port = await networks.GetPortAsync(ctx, portId, CancellationToken.None);
                if (port.Port.DeviceId.Length > 0)
                {
                    throw ApiException.Conflict($"Port {portId} is still in use.");
                }
            }
            else
            {
                await networks.GetNetworkAsync(ctx, nic.NetworkId!, CancellationToken.None);
            }
        }
        catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            throw ApiException.BadRequest(nic.PortId is { } port ? $"Port {port} could not be found." : $"Network {nic.NetworkId} could not be found.");
        }
    }

    /// <summary>
    /// The server's ports, bound to its host, before the host is told to spawn. A port that cannot be made (no address
    /// left, quota) undoes the whole create, as if it had never been asked: ports, attachments, row.
    /// </summary>
    /// <param name="securityGroups">The groups of the ports made here (null: the project's default); a given port keeps its own, as in Nova.</param>
    private async Task AllocatePortsAsync(RequestContext ctx, ServerRow server, IReadOnlyList<NicRequest> nics, IReadOnlyList<string>? securityGroups)
    {
        try
        {
            foreach (var nic in nics)
            {
                await networks.CreatePortForServerAsync(server.ProjectId, nic.NetworkId, nic.PortId, nic.FixedIp, server.Id, server.Host, CancellationToken.None,
                    securityGroups, nic.Tag);
            }
        }
        catch
        {
            await DeleteLocallyAsync(ctx, server);
            throw;
        }
    }
}
