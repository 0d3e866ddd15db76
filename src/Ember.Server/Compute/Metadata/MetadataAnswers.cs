using System.Net;
using Ember.Server.Network;

namespace Ember.Server.Compute.Metadata;

/// <summary>
/// Who asks and what they get: the instance is the server whose compute port on the listener's network holds the
/// request's source address (Neutron's metadata agent does the same lookup before it asks Nova); an address no server
/// holds gets a 404.
/// </summary>
public sealed class MetadataAnswers(NetworkService networks, ComputeStore store)
{
    public async Task<MetadataReply> AnswerAsync(string networkId, IPAddress source, string path, CancellationToken cancellationToken)
    {
        if (await networks.ServerOfAddressAsync(networkId, source.ToString(), cancellationToken) is not { } serverId
            || await store.FindServerAsync(serverId) is not { } server)
        {
            return MetadataReply.NotFound;
        }

        return (await ForServerAsync(server, cancellationToken)).Answer(path);
    }

    /// <summary>The server's metadata (also what its config drive holds).</summary>
    public async Task<InstanceMetadata> ForServerAsync(ServerRow server, CancellationToken cancellationToken) =>
        new(server, await networks.ServerNetworkInfoAsync(server.Id, cancellationToken));
}
