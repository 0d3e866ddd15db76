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
    string? BindingHostId, bool CreatedForServer = false, string? DeviceTag = null);

/// <summary>A port's changes; null fields stay as they are.</summary>
public sealed record PortUpdate(
    string? Name, string? Description, bool? AdminStateUp, string? MacAddress, IReadOnlyList<IpRequest>? FixedIps, string? DeviceOwner, string? DeviceId,
    IReadOnlyList<string>? SecurityGroups, bool? PortSecurityEnabled, IReadOnlyList<AddressPairText>? AllowedAddressPairs, string? BindingHostId,
    string? DeviceTag = null);

/// <summary>A security group rule to create, as given (validated by the service).</summary>
public sealed record RuleCreate(
    string SecurityGroupId, string? ProjectId, string Direction, string? Ethertype, string? Protocol, int? PortRangeMin, int? PortRangeMax,
    string? RemoteIpPrefix, string? RemoteGroupId, string Description);

/// <summary>A router's external_gateway_info: the external network, SNAT (null: on), and the gateway's addresses if asked for.</summary>
public sealed record GatewayInfo(string NetworkId, bool? EnableSnat, IReadOnlyList<IpRequest>? ExternalFixedIps);

/// <summary>A router to create; a null <see cref="Gateway"/> is no gateway.</summary>
public sealed record RouterCreate(string? ProjectId, string Name, string Description, bool? AdminStateUp, GatewayInfo? Gateway);

/// <summary>A router's changes; <see cref="GatewayGiven"/> with a null gateway clears it.</summary>
public sealed record RouterUpdate(string? Name, string? Description, bool? AdminStateUp, bool GatewayGiven, GatewayInfo? Gateway);

/// <summary>A floating IP to create; with a port it is associated at once.</summary>
public sealed record FloatingIpCreate(string? ProjectId, string FloatingNetworkId, string? FloatingIpAddress, string? SubnetId, string? PortId, string? FixedIpAddress, string Description);

/// <summary>What add/remove_router_interface answer.</summary>
public sealed record RouterInterfaceInfo(string RouterId, string ProjectId, string PortId, string SubnetId, IReadOnlyList<string> SubnetIds, string NetworkId);
