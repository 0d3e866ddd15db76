using Ember.Server.Common;
using Ember.Server.Network;

namespace Ember.Server.Compute;

// Nova's proxy of Neutron's security groups for one server: its groups are those of its ports.
public sealed partial class ComputeService
{
    /// <summary>GET /servers/{id}/os-security-groups: the groups of the server's ports, each once, in port order.</summary>
    public async Task<List<SecurityGroupView>> ServerSecurityGroupsAsync(RequestContext ctx, ServerRow server)
    {
        var ids = (await networks.ServerPortViewsAsync(server.Id, CancellationToken.None)).SelectMany(p => p.SecurityGroups).Distinct(StringComparer.Ordinal).ToList();
        var groups = new List<SecurityGroupView>();
        foreach (var id in ids)
        {
            try
            {
                groups.Add(await networks.GetGroupAsync(MemberOfServer(ctx, server), id, CancellationToken.None));
            }
            catch (ApiException ex) when (ex.Kind == ErrorKind.NotFound)
            {
                // Deleted between the two reads.
            }
        }

        return groups;
    }

    /// <summary>
    /// addSecurityGroup / removeSecurityGroup: the group (a name or an id of the server's project) is added to or taken
    /// from every port of the server, as Nova's Neutron driver does; the hosts' port filters follow within seconds.
    /// </summary>
    public async Task ChangeServerSecurityGroupAsync(RequestContext ctx, ServerRow server, string nameOrId, bool add)
    {
        var asOwner = MemberOfServer(ctx, server);
        var group = FindGroup(await networks.ListGroupsAsync(asOwner, CancellationToken.None), server.ProjectId, nameOrId)
            ?? throw ApiException.NotFound($"Security group {nameOrId} not found for project {server.ProjectId}.");
        var ports = await networks.ServerPortViewsAsync(server.Id, CancellationToken.None);
        if (ports.Count == 0)
        {
            throw ApiException.NotFound($"instance_id {server.Id} could not be found as device id on any ports");
        }

        var id = group.Group.Id;
        if (!add && !ports.Any(p => p.SecurityGroups.Contains(id)))
        {
            throw ApiException.BadRequest($"Security group {nameOrId} not associated with the instance {server.Id}");
        }

        foreach (var port in ports)
        {
            if (add && !port.Port.PortSecurityEnabled)
            {
                throw ApiException.BadRequest("Network requires port_security_enabled and subnet associated in order to apply security groups.");
            }

            List<string> wanted = add ? [.. port.SecurityGroups.Where(g => g != id), id] : [.. port.SecurityGroups.Where(g => g != id)];
            if (wanted.SequenceEqual(port.SecurityGroups))
            {
                continue;
            }

            await networks.UpdatePortAsync(asOwner, port.Port.Id, new PortUpdate(null, null, null, null, null, null, null, wanted, null, null, null), CancellationToken.None);
        }
    }

    /// <summary>
    /// A create's security_groups as the ids of the caller's project's groups, checked before anything is reserved; an
    /// unknown one is Nova's 400.
    /// </summary>
    private async Task<IReadOnlyList<string>?> ResolveSecurityGroupsAsync(RequestContext ctx, IReadOnlyList<string> namesOrIds)
    {
        if (namesOrIds.Count == 0)
        {
            return null;
        }

        var groups = await networks.ListGroupsAsync(ctx, CancellationToken.None);
        var projectId = ctx.RequireProject();
        return [.. namesOrIds.Select(nameOrId => FindGroup(groups, projectId, nameOrId)?.Group.Id
            ?? throw ApiException.BadRequest($"Security group {nameOrId} not found.")).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>The project's group with this id, else its one group of this name (several are Nova's 409); null when none.</summary>
    private static SecurityGroupView? FindGroup(IEnumerable<SecurityGroupView> groups, string projectId, string nameOrId)
    {
        var matches = groups.Where(g => g.Group.ProjectId == projectId && (g.Group.Id == nameOrId || g.Group.Name == nameOrId)).ToList();
        return matches.FirstOrDefault(g => g.Group.Id == nameOrId) ?? matches.Count switch
        {
            0 => null,
            1 => matches[0],
            _ => throw ApiException.Conflict($"Multiple security_group matches found for name '{nameOrId}', use an ID to be more specific."),
        };
    }

    /// <summary>The caller, scoped to the server's project (an admin acting on another project's server acts as Nova would, for that project).</summary>
    private static RequestContext MemberOfServer(RequestContext ctx, ServerRow server) =>
        ctx.ProjectId == server.ProjectId ? ctx : new RequestContext("nova", "nova", "default", server.ProjectId, null, ["member"], DateTime.MaxValue);
}
