using System.Net;
using System.Text;
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

        if (IsPasswordPath(path))
        {
            return MetadataReply.Text(200, await store.ServerPasswordAsync(server.Id));
        }

        return (await ForServerAsync(server, cancellationToken)).Answer(path);
    }

    /// <summary>
    /// POST /openstack/{version}/password: the guest's password, encrypted with its key, kept once (Nova's 409 while one
    /// is set, until os-server-password's DELETE clears it). Any other POST is a 405.
    /// </summary>
    public async Task<MetadataReply> PostAsync(string networkId, IPAddress source, string path, byte[] body, CancellationToken cancellationToken)
    {
        if (!IsPasswordPath(path))
        {
            return MetadataReply.Text(405, "405 Method Not Allowed\n");
        }

        if (await networks.ServerOfAddressAsync(networkId, source.ToString(), cancellationToken) is not { } serverId
            || await store.FindServerAsync(serverId) is not { } server)
        {
            return MetadataReply.NotFound;
        }

        string password;
        try
        {
            password = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return MetadataReply.Text(400, "400 Bad Request\n");
        }

        return await store.SetServerPasswordOnceAsync(server.Id, password)
            ? MetadataReply.Text(200, "")
            : MetadataReply.Text(409, "409 Conflict\n");
    }

    /// <summary>The password path of the OpenStack versions that have one (Nova's, from 2013-04-04).</summary>
    private static bool IsPasswordPath(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries) is ["openstack", var version, "password"]
        && (version == "latest" || InstanceMetadata.OpenStackVersions.Contains(version) && string.CompareOrdinal(version, "2013-04-04") >= 0);

    /// <summary>The server's metadata (also what its config drive holds).</summary>
    public async Task<InstanceMetadata> ForServerAsync(ServerRow server, CancellationToken cancellationToken) =>
        new(server, await networks.ServerNetworkInfoAsync(server.Id, cancellationToken));
}
