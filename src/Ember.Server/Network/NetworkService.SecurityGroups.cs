using System.Data.Common;
using Ember.Server.Common;

namespace Ember.Server.Network;

// Security groups and their rules; a project's "default" group is made the first time the project needs one.
public sealed partial class NetworkService
{
    private static readonly string[] s_protocolsWithPorts = ["tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136"];
    private static readonly string[] s_protocolNames = ["tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "sctp", "dccp", "udplite", "gre", "esp", "ah", "vrrp", "igmp", "ospf", "pgm", "egp", "rsvp"];

    private static async Task<SecurityGroupRow> OwnGroupAsync(NetworkStore.Session s, RequestContext ctx, string id) =>
        await s.GroupAsync(id) is { } group && Owns(ctx, group.ProjectId) ? group : throw NetworkErrors.SecurityGroupNotFound(id);

    /// <summary>The project's default group, made (with Neutron's four default rules) if it has none; in the caller's transaction.</summary>
    private static async Task<SecurityGroupRow> EnsureDefaultGroupAsync(NetworkStore.Session s, string projectId)
    {
        if (await s.DefaultGroupAsync(projectId) is { } existing)
        {
            return existing;
        }

        var now = Ids.Now();
        var group = new SecurityGroupRow
        {
            Id = Ids.NewUuid(),
            ProjectId = projectId,
            Name = "default",
            Description = "Default security group",
            DefaultFor = projectId,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await s.InsertGroupAsync(group);
        foreach (var ethertype in new[] { "IPv4", "IPv6" })
        {
            await s.InsertRuleAsync(new SecurityGroupRuleRow { Id = Ids.NewUuid(), SecurityGroupId = group.Id, ProjectId = projectId, Direction = "egress", Ethertype = ethertype, CreatedAt = now, UpdatedAt = now });
            await s.InsertRuleAsync(new SecurityGroupRuleRow { Id = Ids.NewUuid(), SecurityGroupId = group.Id, ProjectId = projectId, Direction = "ingress", Ethertype = ethertype, RemoteGroupId = group.Id, CreatedAt = now, UpdatedAt = now });
        }

        return group;
    }

    /// <summary>The project's default group, made in a transaction of its own when missing.</summary>
    public async Task<SecurityGroupRow> EnsureDefaultGroupAsync(string projectId, CancellationToken cancellationToken)
    {
        if (await store.ReadAsync(s => s.DefaultGroupAsync(projectId), cancellationToken) is { } existing)
        {
            return existing;
        }

        try
        {
            await using var s = await store.BeginAsync(cancellationToken, QuotaLock(projectId));
            var group = await EnsureDefaultGroupAsync(s, projectId);
            await s.CommitAsync(cancellationToken);
            return group;
        }
        catch (DbException ex) when (Data.Database.IsUniqueViolation(ex))
        {
            // Another Ember process made it first.
            return (await store.ReadAsync(s => s.DefaultGroupAsync(projectId), cancellationToken))!;
        }
    }

    private static async Task<List<SecurityGroupView>> GroupViewsAsync(NetworkStore.Session s, List<SecurityGroupRow> groups)
    {
        var rules = (await s.RulesAsync(null, [.. groups.Select(g => g.Id)])).ToLookup(r => r.SecurityGroupId, StringComparer.Ordinal);
        return [.. groups.Select(g => new SecurityGroupView(g, [.. rules[g.Id]]))];
    }

    public async Task<List<SecurityGroupView>> ListGroupsAsync(RequestContext ctx, CancellationToken cancellationToken)
    {
        await EnsureDefaultGroupAsync(ctx.RequireProject(), cancellationToken);
        return await store.ReadAsync(async s => await GroupViewsAsync(s, await s.GroupsAsync(ctx.IsCloudAdmin ? null : ctx.ProjectId)), cancellationToken);
    }

    public async Task<SecurityGroupView> GetGroupAsync(RequestContext ctx, string id, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => (await GroupViewsAsync(s, [await OwnGroupAsync(s, ctx, id)]))[0], cancellationToken);

    public async Task<SecurityGroupView> CreateGroupAsync(RequestContext ctx, string? askedProject, string name, string description, CancellationToken cancellationToken)
    {
        var projectId = ProjectFor(ctx, askedProject, "create_security_group");
        if (name == "default")
        {
            throw new ApiException(ErrorKind.Conflict, "Default security group already exists.") { Type = "SecurityGroupDefaultAlreadyExists" };
        }

        await using var s = await store.BeginAsync(cancellationToken, QuotaLock(projectId));
        await EnsureDefaultGroupAsync(s, projectId);
        await CheckQuotaAsync(projectId, "security_group", await s.CountGroupsAsync(projectId));
        var now = Ids.Now();
        var group = new SecurityGroupRow { Id = Ids.NewUuid(), ProjectId = projectId, Name = name, Description = description, CreatedAt = now, UpdatedAt = now };
        await s.InsertGroupAsync(group);
        // Neutron gives a new group the two egress rules.
        var rules = new List<SecurityGroupRuleRow>();
        foreach (var ethertype in new[] { "IPv4", "IPv6" })
        {
            var rule = new SecurityGroupRuleRow { Id = Ids.NewUuid(), SecurityGroupId = group.Id, ProjectId = projectId, Direction = "egress", Ethertype = ethertype, CreatedAt = now, UpdatedAt = now };
            await s.InsertRuleAsync(rule);
            rules.Add(rule);
        }

        await s.CommitAsync(cancellationToken);
        return new SecurityGroupView(group, rules);
    }

    public async Task<SecurityGroupView> UpdateGroupAsync(RequestContext ctx, string id, string? name, string? description, CancellationToken cancellationToken)
    {
        await using var s = await store.BeginAsync(cancellationToken);
        var group = await OwnGroupAsync(s, ctx, id);
        if (group.DefaultFor is not null && name is not null && name != "default" || group.DefaultFor is null && name == "default")
        {
            throw new ApiException(ErrorKind.Conflict, "Updating default security group not allowed.") { Type = "SecurityGroupCannotUpdateDefault" };
        }

        group.Name = name ?? group.Name;
        group.Description = description ?? group.Description;
        group.UpdatedAt = Ids.Now();
        await s.UpdateGroupAsync(group);
        group.RevisionNumber++;
        var view = (await GroupViewsAsync(s, [group]))[0];
        await s.CommitAsync(cancellationToken);
        return view;
    }

    /// <summary>Refused for the default group and for a group a port uses; rules of other groups naming it go with it.</summary>
    public async Task DeleteGroupAsync(RequestContext ctx, string id, CancellationToken cancellationToken)
    {
        await using var s = await store.BeginAsync(cancellationToken);
        var group = await OwnGroupAsync(s, ctx, id);
        if (group.DefaultFor is not null && !ctx.IsCloudAdmin)
        {
            // The cloud admin may, as in Neutron: a project's clean-up (Tempest's, openstack project purge) removes it.
            throw NetworkErrors.CannotRemoveDefault();
        }

        if (await s.CountPortsInGroupAsync(id) > 0)
        {
            throw NetworkErrors.SecurityGroupInUse(id);
        }

        await s.DeleteGroupAsync(id);
        await s.CommitAsync(cancellationToken);
    }

    public async Task<List<SecurityGroupRuleRow>> ListRulesAsync(RequestContext ctx, CancellationToken cancellationToken)
    {
        await EnsureDefaultGroupAsync(ctx.RequireProject(), cancellationToken);
        return await store.ReadAsync(s => s.RulesAsync(ctx.IsCloudAdmin ? null : ctx.ProjectId), cancellationToken);
    }

    public async Task<SecurityGroupRuleRow> GetRuleAsync(RequestContext ctx, string id, CancellationToken cancellationToken) =>
        await store.ReadAsync(async s => await s.RuleAsync(id) is { } rule && Owns(ctx, rule.ProjectId) ? rule : throw NetworkErrors.SecurityGroupRuleNotFound(id), cancellationToken);

    public async Task<SecurityGroupRuleRow> CreateRuleAsync(RequestContext ctx, RuleCreate request, CancellationToken cancellationToken)
    {
        var rule = ValidateRule(request);
        var owner = await store.ReadAsync(peek => OwnGroupAsync(peek, ctx, request.SecurityGroupId), cancellationToken);
        rule.ProjectId = owner.ProjectId;
        List<string> networks;
        await using (var s = await store.BeginAsync(cancellationToken, QuotaLock(owner.ProjectId)))
        {
            await OwnGroupAsync(s, ctx, request.SecurityGroupId);
            if (rule.RemoteGroupId is { } remote && (await s.GroupAsync(remote) is not { } remoteGroup || !Owns(ctx, remoteGroup.ProjectId)))
            {
                throw NetworkErrors.SecurityGroupNotFound(remote);
            }

            if ((await s.RulesAsync(null, [rule.SecurityGroupId])).FirstOrDefault(other => SameRule(other, rule)) is { } duplicate)
            {
                throw NetworkErrors.SecurityGroupRuleExists(duplicate.Id);
            }

            await CheckQuotaAsync(owner.ProjectId, "security_group_rule", await s.CountRulesAsync(owner.ProjectId));
            await s.InsertRuleAsync(rule);
            networks = await s.NetworksUsingGroupAsync(rule.SecurityGroupId);
            await s.CommitAsync(cancellationToken);
        }

        foreach (var network in networks)
        {
            await NotifyAsync(c => c.NetworkChangedAsync(network, cancellationToken));
        }

        return rule;
    }

    public async Task DeleteRuleAsync(RequestContext ctx, string id, CancellationToken cancellationToken)
    {
        List<string> networks;
        await using (var s = await store.BeginAsync(cancellationToken))
        {
            var rule = await s.RuleAsync(id) is { } found && Owns(ctx, found.ProjectId) ? found : throw NetworkErrors.SecurityGroupRuleNotFound(id);
            await s.DeleteRuleAsync(id);
            networks = await s.NetworksUsingGroupAsync(rule.SecurityGroupId);
            await s.CommitAsync(cancellationToken);
        }

        foreach (var network in networks)
        {
            await NotifyAsync(c => c.NetworkChangedAsync(network, cancellationToken));
        }
    }

    /// <summary>Two rules that let the same traffic through (a remote prefix of "any" is the same as none).</summary>
    private static bool SameRule(SecurityGroupRuleRow a, SecurityGroupRuleRow b) =>
        a.Direction == b.Direction && a.Ethertype == b.Ethertype && a.Protocol == b.Protocol
        && a.PortRangeMin == b.PortRangeMin && a.PortRangeMax == b.PortRangeMax && a.RemoteGroupId == b.RemoteGroupId
        && AnyAsNull(a.RemoteIpPrefix) == AnyAsNull(b.RemoteIpPrefix);

    private static string? AnyAsNull(string? prefix) => prefix is "0.0.0.0/0" or "::/0" ? null : prefix;

    /// <summary>Neutron's checks: direction, ethertype, protocol, ports per protocol, one kind of remote that fits the ethertype.</summary>
    private static SecurityGroupRuleRow ValidateRule(RuleCreate r)
    {
        if (r.Direction is not ("ingress" or "egress"))
        {
            throw NetworkErrors.InvalidAttribute("direction", $"'{Limits.Text(r.Direction, "direction")}' is not in ['ingress', 'egress']");
        }

        var ethertype = (r.Ethertype ?? "IPv4") switch
        {
            "IPv4" or "ipv4" => "IPv4",
            "IPv6" or "ipv6" => "IPv6",
            var other => throw NetworkErrors.InvalidAttribute("ethertype", $"'{Limits.Text(other, "ethertype")}' is not in ['IPv4', 'IPv6']"),
        };
        var protocol = r.Protocol?.ToLowerInvariant() switch
        {
            null or "" or "any" => null,
            var name when s_protocolNames.Contains(name) => name,
            var number when int.TryParse(number, out var n) && n is >= 0 and <= 255 && number == n.ToString(System.Globalization.CultureInfo.InvariantCulture) => number,
            var bad => throw new ApiException(ErrorKind.BadRequest, $"Security group rule protocol {Limits.Text(bad, "protocol")} not supported. Only protocol values [{string.Join(", ", s_protocolNames)}] and integer representations [0 to 255] are supported.") { Type = "SecurityGroupRuleInvalidProtocol" },
        };

        CheckPorts(protocol, r.PortRangeMin, r.PortRangeMax);
        if (r.RemoteIpPrefix is not null && r.RemoteGroupId is not null)
        {
            throw new ApiException(ErrorKind.BadRequest, "Only remote_ip_prefix or remote_group_id may be provided.") { Type = "SecurityGroupRemoteGroupAndRemoteIpPrefix" };
        }

        var prefix = r.RemoteIpPrefix is { } text ? NormalizePrefix(text, ethertype) : null;
        var now = Ids.Now();
        return new SecurityGroupRuleRow
        {
            Id = Ids.NewUuid(),
            SecurityGroupId = r.SecurityGroupId,
            Direction = r.Direction,
            Ethertype = ethertype,
            Protocol = protocol,
            PortRangeMin = r.PortRangeMin,
            PortRangeMax = r.PortRangeMax,
            RemoteIpPrefix = prefix,
            RemoteGroupId = r.RemoteGroupId,
            Description = r.Description,
            CreatedAt = now,
            UpdatedAt = now,
        };
    }

    private static void CheckPorts(string? protocol, int? min, int? max)
    {
        if (min is null && max is null)
        {
            return;
        }

        if (protocol is null)
        {
            throw new ApiException(ErrorKind.BadRequest, "Must also specify protocol if port range is given.") { Type = "SecurityGroupProtocolRequiredWithPorts" };
        }

        if (s_protocolsWithPorts.Contains(protocol))
        {
            if (min is null || max is null || min > max)
            {
                throw new ApiException(ErrorKind.BadRequest, "For TCP/UDP protocols, port_range_min must be <= port_range_max") { Type = "SecurityGroupInvalidPortRange" };
            }

            if (min is < 1 or > 65535 || max is < 1 or > 65535)
            {
                throw new ApiException(ErrorKind.BadRequest, $"Invalid value for port {(min is < 1 or > 65535 ? min : max)}") { Type = "SecurityGroupInvalidPortValue" };
            }

            return;
        }

        if (protocol is "icmp" or "icmpv6" or "ipv6-icmp" or "1" or "58")
        {
            // For ICMP the range is the type (min) and the code (max); a code needs a type.
            if (min is < 0 or > 255)
            {
                throw InvalidIcmpValue("type", "port_range_min", min.Value);
            }

            if (max is < 0 or > 255)
            {
                throw InvalidIcmpValue("code", "port_range_max", max.Value);
            }

            if (min is null && max is not null)
            {
                throw new ApiException(ErrorKind.BadRequest, $"ICMP code (port-range-max) {max} is provided but ICMP type (port-range-min) is missing.") { Type = "SecurityGroupMissingIcmpType" };
            }

            return;
        }

        throw new ApiException(ErrorKind.BadRequest, $"Invalid protocol {protocol} for port range, only supported for TCP, UDP, UDPLITE, SCTP, DCCP and ICMP protocols.") { Type = "SecurityGroupInvalidProtocolForPort" };
    }

    private static ApiException InvalidIcmpValue(string field, string attribute, int value) =>
        new(ErrorKind.BadRequest, $"Invalid value for ICMP {field} ({attribute}) {value}. It must be 0 to 255.") { Type = "SecurityGroupInvalidIcmpValue" };

    /// <summary>A prefix of the rule's family, with host bits cleared as Neutron stores it.</summary>
    private static string NormalizePrefix(string text, string ethertype)
    {
        // An IPv4 address has its four parts: .NET would read "256" as 0.0.1.0, where Neutron's netaddr refuses it.
        var address = text.Split('/', 2)[0];
        if (!address.Contains(':', StringComparison.Ordinal) && address.Split('.').Length != 4)
        {
            throw NetworkErrors.InvalidAttribute("remote_ip_prefix", $"'{Limits.Text(text, "remote_ip_prefix")}' is not a valid IP subnet");
        }

        if (System.Net.IPNetwork.TryParse(text.Contains('/', StringComparison.Ordinal) ? text : text + (text.Contains(':', StringComparison.Ordinal) ? "/128" : "/32"), out var network) is false)
        {
            // IPNetwork refuses host bits; Neutron takes them and stores the network.
            if (Ipv4Cidr.TryParse(text, out var loose, out _))
            {
                return ethertype == "IPv4" ? loose.ToString() : throw ConflictingEthertype(text, ethertype);
            }

            throw NetworkErrors.InvalidAttribute("remote_ip_prefix", $"'{Limits.Text(text, "remote_ip_prefix")}' is not a valid IP subnet");
        }

        var isV6 = network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        return isV6 == (ethertype == "IPv6") ? network.ToString() : throw ConflictingEthertype(text, ethertype);
    }

    private static ApiException ConflictingEthertype(string prefix, string ethertype) =>
        new(ErrorKind.BadRequest, $"Conflicting value ethertype {ethertype} for CIDR {prefix}") { Type = "SecurityGroupRuleParameterConflict" };
}
