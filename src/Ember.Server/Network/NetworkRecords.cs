namespace Ember.Server.Network;

// Rows as stored: settable properties, so Dapper converts SQLite's integers to booleans (docs/database.md, rule 3).
#pragma warning disable CA1056 // a port's MAC and addresses are strings, as on the wire

/// <summary>A network.</summary>
public sealed class NetworkRow
{
    public string Id { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public bool AdminStateUp { get; set; } = true;
    public bool Shared { get; set; }
    public bool External { get; set; }
    public int Mtu { get; set; }
    public bool PortSecurityEnabled { get; set; } = true;

    /// <summary>Made for Nova's "networks: auto" (one per project).</summary>
    public bool AutoAllocated { get; set; }

    /// <summary>The VXLAN network identifier (provider:segmentation_id); null for external networks, which are not tunnelled.</summary>
    public int? SegmentationId { get; set; }
    public long RevisionNumber { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>An IPv4 subnet; pools, DNS servers and host routes are JSON text.</summary>
public sealed class SubnetRow
{
    public string Id { get; set; } = "";
    public string NetworkId { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public string Cidr { get; set; } = "";
    public string? GatewayIp { get; set; }
    public string AllocationPools { get; set; } = "[]";
    public bool EnableDhcp { get; set; } = true;
    public string DnsNameservers { get; set; } = "[]";
    public string HostRoutes { get; set; } = "[]";
    public long RevisionNumber { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A port; its fixed IPs and security groups are rows of their own.</summary>
public sealed class PortRow
{
    public string Id { get; set; } = "";
    public string NetworkId { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public string MacAddress { get; set; } = "";
    public bool AdminStateUp { get; set; } = true;
    public string Status { get; set; } = NetworkService.PortDown;
    public string DeviceOwner { get; set; } = "";
    public string DeviceId { get; set; } = "";
    public bool PortSecurityEnabled { get; set; } = true;
    public string AllowedAddressPairs { get; set; } = "[]";

    /// <summary>binding:host_id; empty when unbound.</summary>
    public string BindingHostId { get; set; } = "";

    /// <summary>Made by a server boot (deleted with the server) rather than handed to it (only unbound).</summary>
    public bool CreatedForServer { get; set; }

    /// <summary>Nova's device tag of the server interface this port is (null: none); cleared when the server lets the port go.</summary>
    public string? DeviceTag { get; set; }
    public long RevisionNumber { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>One fixed IP of a port.</summary>
public sealed class PortIpRow
{
    public string PortId { get; set; } = "";
    public string SubnetId { get; set; } = "";
    public string NetworkId { get; set; } = "";
    public string IpAddress { get; set; } = "";
    public int Position { get; set; }
}

/// <summary>A security group; <see cref="DefaultFor"/> is the project id of a project's "default" group, else null.</summary>
public sealed class SecurityGroupRow
{
    public string Id { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public string? DefaultFor { get; set; }
    public long RevisionNumber { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A security group rule.</summary>
public sealed class SecurityGroupRuleRow
{
    public string Id { get; set; } = "";
    public string SecurityGroupId { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public string Direction { get; set; } = "";
    public string Ethertype { get; set; } = "IPv4";
    public string? Protocol { get; set; }
    public int? PortRangeMin { get; set; }
    public int? PortRangeMax { get; set; }
    public string? RemoteIpPrefix { get; set; }
    public string? RemoteGroupId { get; set; }
    public string Description { get; set; } = "";
    public long RevisionNumber { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A router; its gateway is a port on <see cref="GatewayNetworkId"/>, its interfaces ports with device_id its id.</summary>
public sealed class RouterRow
{
    public string Id { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public bool AdminStateUp { get; set; } = true;
    public string? GatewayNetworkId { get; set; }
    public string? GatewayPortId { get; set; }
    public bool EnableSnat { get; set; } = true;
    public long RevisionNumber { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A floating IP: an address (a port of its own) on an external network, associated with a port's fixed IP through a router.</summary>
public sealed class FloatingIpRow
{
    public string Id { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public string FloatingNetworkId { get; set; } = "";
    public string FloatingPortId { get; set; } = "";
    public string FloatingIpAddress { get; set; } = "";
    public string? PortId { get; set; }
    public string? FixedIpAddress { get; set; }
    public string? RouterId { get; set; }
    public string Status { get; set; } = NetworkService.PortDown;
    public string Description { get; set; } = "";
    public long RevisionNumber { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A router with its gateway port's addresses (external_fixed_ips).</summary>
public sealed record RouterView(RouterRow Router, IReadOnlyList<PortIpRow> GatewayIps);

/// <summary>A port with what belongs to it, as the API shows it.</summary>
public sealed record PortView(PortRow Port, IReadOnlyList<PortIpRow> FixedIps, IReadOnlyList<string> SecurityGroups);

/// <summary>A network with its subnets' ids.</summary>
public sealed record NetworkView(NetworkRow Network, IReadOnlyList<string> Subnets);

/// <summary>A security group with its rules.</summary>
public sealed record SecurityGroupView(SecurityGroupRow Group, IReadOnlyList<SecurityGroupRuleRow> Rules);

/// <summary>An allocation pool or host route as JSON stores it.</summary>
public sealed record PoolText(string Start, string End);

public sealed record HostRouteText(string Destination, string Nexthop);

public sealed record AddressPairText(string IpAddress, string MacAddress);
#pragma warning restore CA1056
