namespace Ember.Server.Network;

/// <summary>
/// What the network data plane (bridges, DHCP) hears after each committed change; it reads the current state
/// through <see cref="NetworkService.GetDhcpViewAsync"/>. The default does nothing.
/// </summary>
public interface INetworkChanges
{
    /// <summary>A network, one of its subnets or ports, or a security group a port on it uses changed (or was created).</summary>
    Task NetworkChangedAsync(string networkId, CancellationToken cancellationToken);

    Task NetworkDeletedAsync(string networkId, CancellationToken cancellationToken);

    Task PortDeletedAsync(string portId, string networkId, CancellationToken cancellationToken);
}

/// <summary>No data plane: the API and its state only.</summary>
public sealed class NoNetworkChanges : INetworkChanges
{
    public Task NetworkChangedAsync(string networkId, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task NetworkDeletedAsync(string networkId, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task PortDeletedAsync(string portId, string networkId, CancellationToken cancellationToken) => Task.CompletedTask;
}
