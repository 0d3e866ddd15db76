namespace Ember.Server.Network;

/// <summary>A network to create; null fields take Neutron's defaults.</summary>
public sealed record NetworkCreate(string? ProjectId, string Name, string Description, bool? AdminStateUp, bool? Shared, bool? External, int? Mtu, bool? PortSecurityEnabled);

/// <summary>A network's changes; null fields stay as they are.</summary>
public sealed record NetworkUpdate(string? Name, string? Description, bool? AdminStateUp, bool? Shared, bool? External, int? Mtu, bool? PortSecurityEnabled);

/// <summary>An IPv4 subnet to create. <see cref="GatewayGiven"/> with a null gateway is "no gateway".</summary>
public sealed record SubnetCreate(
    string NetworkId, string? ProjectId, string Name, string Description, string Cidr, bool GatewayGiven, string? GatewayIp,
    IReadOnlyList<PoolText>? AllocationPools, bool? EnableDhcp, IReadOnlyList<string>? DnsNameservers, IReadOnlyList<HostRouteText>? HostRoutes);

/// <summary>A subnet's changes; null fields stay as they are.</summary>
public sealed record SubnetUpdate(
    string? Name, string? Description, bool GatewayGiven, string? GatewayIp, IReadOnlyList<PoolText>? AllocationPools, bool? EnableDhcp,
    IReadOnlyList<string>? DnsNameservers, IReadOnlyList<HostRouteText>? HostRoutes);

/// <summary>One requested fixed IP: a subnet, an address, or both.</summary>
public sealed record IpRequest(string? SubnetId, string? IpAddress);

/// <summary>A port to create; null fields take Neutron's defaults.</summary>
public sealed record PortCreate(
    string NetworkId, string? ProjectId, string Name, string Description, bool? AdminStateUp, string? MacAddress, IReadOnlyList<IpRequest>? FixedIps,
    string DeviceOwner, string DeviceId, IReadOnlyList<string>? SecurityGroups, bool? PortSecurityEnabled, IReadOnlyList<AddressPairText>? AllowedAddressPairs,
    string? BindingHostId, bool CreatedForServer = false);

/// <summary>A port's changes; null fields stay as they are.</summary>
public sealed record PortUpdate(
    string? Name, string? Description, bool? AdminStateUp, string? MacAddress, IReadOnlyList<IpRequest>? FixedIps, string? DeviceOwner, string? DeviceId,
    IReadOnlyList<string>? SecurityGroups, bool? PortSecurityEnabled, IReadOnlyList<AddressPairText>? AllowedAddressPairs, string? BindingHostId);

/// <summary>A security group rule to create, as given (validated by the service).</summary>
public sealed record RuleCreate(
    string SecurityGroupId, string? ProjectId, string Direction, string? Ethertype, string? Protocol, int? PortRangeMin, int? PortRangeMax,
    string? RemoteIpPrefix, string? RemoteGroupId, string Description);
