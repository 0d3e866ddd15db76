using Ember.Server.Common;
using Ember.Server.Network;

namespace Ember.Server.Compute;

// os-interface (Nova's attach_interface / detach_interface): a port made on a network or given, bound to the server's
// host, hot-plugged there. The server's interfaces are its compute:nova ports, so they outlive a stop and start.
public sealed partial class ComputeService
{
    /// <summary>Nova's bound on a server's interfaces (the PCI slots a guest has to spare are fewer than that anyway).</summary>
    public const int MaxInterfaces = 16;

    /// <summary>
    /// POST os-interface: the port (<paramref name="portId"/>, or a new one on <paramref name="networkId"/>, or on the
    /// project's one network when neither is given) is bound to the server and plugged by its host; the reply waits for
    /// the hot-plug, as Nova's attach_interface call does. A failure releases the port again. <paramref name="tag"/> is the
    /// device tag the guest finds in its metadata's devices list.
    /// </summary>
    public async Task<PortView> AttachInterfaceAsync(RequestContext ctx, string requestId, ServerRow server, string? networkId, string? portId, string? fixedIp,
        string? tag = null)
    {
        RequireInterfaceState(server, "attach_interface");
        if (networkOptions.Value is not { Enabled: true, HostNetworking: true })
        {
            throw ApiException.BadRequest("Networking is not available on this cloud: servers have no interfaces (Network:HostNetworking is off).");
        }

        if (networkId is not null && portId is not null)
        {
            throw ApiException.BadRequest("Must not input both network_id and port_id");
        }

        if (fixedIp is not null && networkId is null)
        {
            throw ApiException.BadRequest("Must input network_id when request IP address");
        }

        if ((await networks.ListServerPortsAsync(server.Id, CancellationToken.None)).Count >= MaxInterfaces)
        {
            throw ApiException.BadRequest($"Server {server.Id} already has the most interfaces a server may have ({MaxInterfaces}).");
        }

        if (portId is not null)
        {
            var port = await FindForInterfaceAsync(() => networks.GetPortAsync(ctx, portId, CancellationToken.None), $"Port {portId} could not be found.");
            if (port.Port.DeviceId.Length > 0)
            {
                throw ApiException.Conflict($"Port {portId} is still in use.");
            }
        }
        else if (networkId is not null)
        {
            await FindForInterfaceAsync(() => networks.GetNetworkAsync(ctx, networkId, CancellationToken.None), $"Network {networkId} could not be found.");
        }
        else
        {
            networkId = await TheProjectNetworkAsync(ctx);
        }

        var host = await HostOfAsync(server);
        var plugged = await networks.CreatePortForServerAsync(server.ProjectId, networkId, portId, fixedIp, server.Id, server.Host, CancellationToken.None, tag: tag);
        try
        {
            await host.AttachInterfaceAsync(new AttachInterface(requestId, server.Id, plugged.PortId), CancellationToken.None);
        }
        catch
        {
            await networks.ReleaseServerPortAsync(server.Id, plugged.PortId, CancellationToken.None);
            throw;
        }

        return (await networks.ServerPortViewsAsync(server.Id, CancellationToken.None)).First(p => p.Port.Id == plugged.PortId);
    }

    /// <summary>DELETE os-interface/{port}: 202 at once; the host unplugs the NIC and then releases the port.</summary>
    public async Task DetachInterfaceAsync(string requestId, ServerRow server, string portId)
    {
        RequireInterfaceState(server, "detach_interface");
        if (!(await networks.ListServerPortsAsync(server.Id, CancellationToken.None)).Any(p => p.PortId == portId))
        {
            throw ApiException.NotFound($"Port {portId} is not attached");
        }

        var host = await HostOfAsync(server);
        await host.DetachInterfaceAsync(new DetachInterface(requestId, server.Id, portId), CancellationToken.None);
    }

    /// <summary>Nova's check_instance_state for the interface calls: ACTIVE, PAUSED or STOPPED, and no task running.</summary>
    private static void RequireInterfaceState(ServerRow server, string action)
    {
        if (server.VmState is not (VmStates.Active or VmStates.Stopped))
        {
            throw ApiException.Conflict($"Cannot '{action}' instance {server.Id} while it is in vm_state {server.VmState}");
        }

        if (server.TaskState is not null)
        {
            throw ApiException.Conflict($"Cannot '{action}' instance {server.Id} while it is in task_state {server.TaskState}");
        }
    }

    /// <summary>Nova's attach without a port or network: the project's one network (its own, not external, or a shared one).</summary>
    private async Task<string> TheProjectNetworkAsync(RequestContext ctx)
    {
        var candidates = (await networks.ListNetworksAsync(ctx, CancellationToken.None))
            .Select(v => v.Network)
            .Where(n => n.Shared || (n.ProjectId == ctx.ProjectId && !n.External))
            .ToList();
        return candidates.Count switch
        {
            1 => candidates[0].Id,
            0 => throw ApiException.BadRequest("No networks are available to attach an interface to: name a network or a port."),
            _ => throw ApiException.Conflict("Multiple possible networks found, use a Network ID to be more specific."),
        };
    }

    /// <summary>The network service's 404 in Nova's words (the os-interface answer is Nova's, not Neutron's).</summary>
    private static async Task<T> FindForInterfaceAsync<T>(Func<Task<T>> read, string notFound)
    {
        try
        {
            return await read();
        }
        catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            throw ApiException.NotFound(notFound);
        }
    }
}
